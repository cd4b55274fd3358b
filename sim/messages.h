// What sdpa-sim says on stderr is one line per message, whatever the input it quotes holds.
#pragma once

#include <string>
#include <string_view>

namespace sdpa {

// Control characters are escaped, and so are those a terminal shows as a space or not at all
// (`seq_len\u{200b}` is not `seq_len`), and bytes that are not UTF-8, which a terminal would show
// as something else or garble.
std::string one_line(std::string_view message);

// `sdpa-sim: note: <message>` on stderr, on one line: notes quote paths, which may hold newlines.
void note(std::string_view message);

}  // namespace sdpa
