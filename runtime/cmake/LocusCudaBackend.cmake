# Decides whether the CUDA back end is built, without ever failing the configure step.
#
# The CUDA back end needs four things: the option, a working nvcc, the CUDA toolkit libraries
# (cudart, cuBLAS) and cuDNN, which has no CMake find module. Development and CI machines may lack
# any of them, so each missing piece only switches the back end off and says why.
#
# Sets, in the including scope:
#   LOCUS_CUDA_BACKEND         ON or OFF
#   LOCUS_CUDA_BACKEND_REASON  why it is OFF (empty when ON)
#   LOCUS_CUDNN_INCLUDE_DIR, LOCUS_CUDNN_LIBRARY   (when ON)
#   LOCUS_CUDA_RPATH           library directories binaries need at run time (when ON)
# and enables the CUDA language when ON. This is included at file scope because
# enable_language() may not be called from inside a function.

option(LOCUS_ENABLE_CUDA "Build the CUDA back end when a CUDA toolkit and cuDNN are found" ON)

set(LOCUS_CUDA_BACKEND OFF)
set(LOCUS_CUDA_BACKEND_REASON "")

if(NOT LOCUS_ENABLE_CUDA)
  set(LOCUS_CUDA_BACKEND_REASON "LOCUS_ENABLE_CUDA is OFF")
else()
  # Prefer the toolkit's standard location over PATH: nvcc is often not on PATH, and where it is,
  # it may be a wrapper script (this machine has /usr/local/bin/nvcc) that CMake's compiler
  # detection cannot handle. check_language runs a child CMake, which reads the compiler from the
  # CUDACXX environment variable, so the choice is still verified before we rely on it. A user's
  # CMAKE_CUDA_COMPILER or CUDACXX wins.
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
  endif()

  include(CheckLanguage)
  check_language(CUDA)

  if(NOT CMAKE_CUDA_COMPILER)
    if(DEFINED ENV{CUDACXX})
      set(LOCUS_CUDA_BACKEND_REASON
        "$ENV{CUDACXX} failed CMake's CUDA compiler check (details in the configure log under ${CMAKE_BINARY_DIR}/CMakeFiles)")
    else()
      set(LOCUS_CUDA_BACKEND_REASON "no working nvcc on PATH or in /usr/local/cuda/bin")
    endif()
  else()
    # Look for the libraries in the toolkit of the nvcc that passed the check, not in whatever
    # toolkit an nvcc on PATH belongs to.
    if(NOT DEFINED CUDAToolkit_ROOT AND NOT DEFINED ENV{CUDAToolkit_ROOT})
      get_filename_component(_locus_nvcc_dir "${CMAKE_CUDA_COMPILER}" DIRECTORY)
      get_filename_component(CUDAToolkit_ROOT "${_locus_nvcc_dir}" DIRECTORY)
    endif()
    find_package(CUDAToolkit QUIET)
    if(NOT CUDAToolkit_FOUND)
      set(LOCUS_CUDA_BACKEND_REASON "CUDA toolkit libraries not found next to ${CMAKE_CUDA_COMPILER}")
    elseif(NOT TARGET CUDA::cublas)
      set(LOCUS_CUDA_BACKEND_REASON "cuBLAS not found in the CUDA toolkit ${CUDAToolkit_LIBRARY_DIR}")
    else()
      find_path(LOCUS_CUDNN_INCLUDE_DIR cudnn.h
        HINTS ${CUDAToolkit_INCLUDE_DIRS}
        PATHS /usr/include /usr/include/x86_64-linux-gnu)
      find_library(LOCUS_CUDNN_LIBRARY cudnn
        HINTS ${CUDAToolkit_LIBRARY_DIR}
        PATHS /usr/lib/x86_64-linux-gnu)
      if(NOT LOCUS_CUDNN_INCLUDE_DIR OR NOT LOCUS_CUDNN_LIBRARY)
        set(LOCUS_CUDA_BACKEND_REASON "cuDNN not found (cudnn.h: ${LOCUS_CUDNN_INCLUDE_DIR}, libcudnn: ${LOCUS_CUDNN_LIBRARY})")
      else()
        set(LOCUS_CUDA_BACKEND ON)
      endif()
    endif()
  endif()
endif()

if(LOCUS_CUDA_BACKEND)
  # H100 and H200 are sm_90; a user's -DCMAKE_CUDA_ARCHITECTURES wins.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  # Link the shared cudart, as CUDA::cudart does, so a binary never carries two CUDA runtimes.
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
  enable_language(CUDA)

  # Binaries built here also run on the GPU machine, without LD_LIBRARY_PATH: search the libraries
  # where they were found here, then /usr/local/cuda/lib64, the conventional toolkit path there
  # (the toolkit found here may live elsewhere). cuDNN there is a system library in the default path.
  get_filename_component(_locus_cudnn_dir "${LOCUS_CUDNN_LIBRARY}" DIRECTORY)
  set(LOCUS_CUDA_RPATH ${CUDAToolkit_LIBRARY_DIR} ${_locus_cudnn_dir} /usr/local/cuda/lib64)
  list(REMOVE_DUPLICATES LOCUS_CUDA_RPATH)

  string(REGEX MATCH "^[0-9]+\\.[0-9]+" _locus_cuda_version "${CUDAToolkit_VERSION}")
  message(STATUS "locus: CUDA back end: ON (CUDA ${_locus_cuda_version}, cuDNN at ${LOCUS_CUDNN_LIBRARY}, cuBLAS)")
else()
  message(STATUS "locus: CUDA back end: OFF (reason: ${LOCUS_CUDA_BACKEND_REASON}); building the CPU runtime only")
endif()
