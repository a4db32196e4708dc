# Shared build settings for every target of ours: warnings as errors, optional sanitizers.
# Third-party headers come in as SYSTEM includes through their imported targets, so their
# warnings never fail our build.

set(S3CHAOS_WARNINGS -Wall -Wextra -Werror -Wno-error=deprecated-declarations)
set(S3CHAOS_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

# s3chaos_target_defaults(TARGET): apply warnings and sanitizer flags to one of our targets.
function(s3chaos_target_defaults target)
  get_target_property(kind ${target} TYPE)
  if(kind STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  target_compile_options(${target} PRIVATE ${S3CHAOS_WARNINGS})
  if(S3CHAOS_SANITIZE)
    target_compile_options(${target} PRIVATE ${S3CHAOS_SANITIZER_FLAGS})
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# s3chaos_library(NAME DEPS...): one folder, one library. Sources are src/*.cpp, the public
# header lives under include/NAME/. A folder with no sources yet is an INTERFACE library.
function(s3chaos_library name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  if(sources)
    add_library(${name} STATIC ${sources})
    target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                          PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(${name} PUBLIC ${ARGN})
    s3chaos_target_defaults(${name})
    if(S3CHAOS_SANITIZE)
      # Consumers of an instrumented static library must link the sanitizer runtimes too.
      target_link_options(${name} INTERFACE -fsanitize=address,undefined)
    endif()
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
  add_library(s3chaos::${name} ALIAS ${name})
endfunction()

# s3chaos_executable(NAME SOURCES... LIBS ...): a thin executable in bin/.
function(s3chaos_executable name)
  cmake_parse_arguments(arg "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  if(NOT S3CHAOS_SANITIZE)
    # First, and kept even where the linker drops unused libraries: mimalloc's malloc must be
    # the one every library of the program (libstdc++, SQLite, OpenSSL) resolves to.
    target_link_libraries(${name} PRIVATE -Wl,--push-state,--no-as-needed mimalloc
                                          -Wl,--pop-state)
  endif()
  target_link_libraries(${name} PRIVATE ${arg_LIBS})
  s3chaos_target_defaults(${name})
endfunction()
