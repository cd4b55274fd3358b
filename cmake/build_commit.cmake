# Run at every build (cmake -DSOURCE_DIR=... -DOUTPUT=... -P build_commit.cmake): writes OUTPUT,
# a header naming the commit the sources are at and whether they differ from it, so that a report
# names the build behind its numbers. The file is rewritten only when that changes: an unchanged
# header recompiles nothing.
set(commit "")
set(modified false)
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE)
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --show-toplevel
                  OUTPUT_VARIABLE top RESULT_VARIABLE failed
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  # Only a checkout of these sources: an unpacked tarball inside another repository is not one.
  if(NOT failed)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SOURCE_DIR}" source)
  endif()
  if(NOT failed AND top STREQUAL source)
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --verify HEAD
                    OUTPUT_VARIABLE commit RESULT_VARIABLE failed
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    # Untracked files count: the build takes every hw/datapaths/*.cpp.
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" status --porcelain
                    OUTPUT_VARIABLE changes RESULT_VARIABLE status_failed ERROR_QUIET)
    if(failed OR status_failed)
      set(commit "")
    elseif(NOT changes STREQUAL "")
      set(modified true)
    endif()
  endif()
endif()

set(text "// Generated at every build by cmake/build_commit.cmake.
#pragma once

namespace sdpa {

// The commit the sources were built from; empty where they are not a git checkout (a tarball).
inline constexpr const char* kCommit = \"${commit}\";
// Whether files of the checkout, untracked ones included, differed from that commit.
inline constexpr bool kModified = ${modified};

}  // namespace sdpa
")
set(old "")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
