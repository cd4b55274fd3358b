# Run at every build (cmake -DSOURCE_DIR=... -DOUTPUT=... -P build_commit.cmake): writes OUTPUT,
# a header naming the latest commit that changed what sdpa-sim is built from and whether those
# files differ from it now, so that a report names the sources behind its numbers. Commits of
# other files (docs, tests) leave the header, and so the binary, as they were: a sweep resumed
# after one (scripts/sweep --resume compares the binary) is not refused. The file is rewritten
# only when its text changes.
set(sources CMakeLists.txt cmake hw sim params/default.yaml params/cost/horowitz-45nm.yaml)
set(commit "")
set(modified false)
# A build run from a git hook would otherwise read the hook's repository and index.
foreach(variable GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_COMMON_DIR)
  unset(ENV{${variable}})
endforeach()
find_program(GIT_EXECUTABLE git)
# Reads a checkout's commit, or says why not: a build of a checkout git refuses to read (another
# user's, "dubious ownership") warns, where a tarball's sources are silently no checkout.
if(GIT_EXECUTABLE AND EXISTS "${SOURCE_DIR}/.git")
  set(git "${GIT_EXECUTABLE}" --no-optional-locks -C "${SOURCE_DIR}")
  execute_process(COMMAND ${git} rev-parse --show-toplevel
                  OUTPUT_VARIABLE top RESULT_VARIABLE failed ERROR_VARIABLE why
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT failed)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SOURCE_DIR}" source)
    if(NOT top STREQUAL source)
      set(failed 1)
      set(why "the repository's top folder is ${top}")
    endif()
  endif()
  if(NOT failed)
    execute_process(COMMAND ${git} log -1 --format=%H -- ${sources}
                    OUTPUT_VARIABLE commit RESULT_VARIABLE failed ERROR_VARIABLE why
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
  if(NOT failed)
    # Untracked files count, whatever status.showUntrackedFiles says: the build takes every
    # hw/datapaths/*.cpp.
    execute_process(COMMAND ${git} status --porcelain --untracked-files=normal -- ${sources}
                    OUTPUT_VARIABLE changes RESULT_VARIABLE failed ERROR_VARIABLE why)
  endif()
  if(failed OR commit STREQUAL "")
    string(STRIP "${why}" why)
    message(WARNING "sdpa-sim will not name its commit (report.json's build.commit is null): "
                    "git cannot read ${SOURCE_DIR}: ${why}")
    set(commit "")
  elseif(NOT changes STREQUAL "")
    set(modified true)
  endif()
endif()

set(text "// Generated at every build by cmake/build_commit.cmake.
#pragma once

namespace sdpa {

// The latest commit that changed the files sdpa-sim is built from; empty where git could not
// say (a tarball, no git, a checkout git refuses to read).
inline constexpr const char* kCommit = \"${commit}\";
// Whether those files, untracked ones included, differed from that commit.
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
