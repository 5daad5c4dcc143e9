// Internal: the engine sidecar `model.plan.json` that `nst build-engine` writes
// (runtime/trt/sidecar.py, SIDECAR_FORMAT 2), and the load-time rules of the Python
// check_compat, as pure functions: no TensorRT or CUDA here, so tests/test_trt_sidecar.cpp runs
// them on any machine. trt_backend.cpp feeds them what TensorRT and CUDA report.
#ifndef NST_SRC_TRT_SIDECAR_HPP
#define NST_SRC_TRT_SIDECAR_HPP

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nst::detail {

/** The sidecar format libnst reads (the Python SIDECAR_FORMAT). */
constexpr int kSidecarFormat = 2;

/** The library names sidecars record (runtime/trt/libs.py TENSORRT, RTX). */
constexpr const char* kTensorRT = "tensorrt";
constexpr const char* kTensorRTRtx = "tensorrt_rtx";

/**
 * The sidecar fields libnst uses. The others (precision, source_precision, profiles, hashes,
 * nst_version, ...) are not read: the engine itself is asked for its profiles and dtypes.
 */
struct Sidecar {
  std::string library;                         // "tensorrt" or "tensorrt_rtx"
  std::string library_version;                 // the builder's __version__, e.g. "10.3.0.26"
  std::vector<std::string> compute_capabilities;  // targets of the build, "8.6" etc.
  std::string gpu_name;                        // the build GPU; "" for a build for named targets
  bool version_compatible = false;
  std::map<std::string, std::string> io_dtypes;  // every engine I/O tensor -> numpy dtype name
  std::string build_command;                   // the nst build-engine command that rebuilds it
  std::map<std::string, std::string> model_metadata;  // the ONNX model's nst.* metadata
};

/** The machine an engine is about to be loaded on (the Python Platform, library "tensorrt"). */
struct Platform {
  std::vector<int64_t> library_version;  // this libnvinfer: {major, minor, patch, build}
  std::string gpu_name;                  // cudaDeviceProp::name
  std::string compute_capability;        // "major.minor" of the current device
};

/** `nst build-engine MODEL.onnx -o <plan> --force`: the rebuild hint when a sidecar has none. */
std::string default_build_command(const std::string& plan);

/**
 * Parse the sidecar text read from `source` (the `.plan.json` of engine `plan`).
 *
 * Throws Failure(NST_ERR_MODEL_INVALID) when it is not JSON or not an object; when its
 * `format` is not kSidecarFormat (format 1 included), naming the rebuild command from its
 * `build_command` as the Python Sidecar.from_json does; when a field libnst needs is missing
 * (`library`, `library_version`, `compute_capabilities`, `io_dtypes`) or any of its fields has
 * the wrong type; and when `library` is neither "tensorrt" nor "tensorrt_rtx".
 */
Sidecar parse_sidecar(const std::string& text, const std::string& source, const std::string& plan);

/**
 * libnst links regular TensorRT (libnvinfer) only: Failure(NST_ERR_ENGINE_INCOMPATIBLE) for an
 * engine the sidecar says another library built (TensorRT-RTX engines need the TensorRT-RTX
 * runtime), saying so and how to run or rebuild it. Nothing for a "tensorrt" engine.
 */
void check_library(const Sidecar& sidecar, const std::string& plan);

/**
 * Why a TensorRT engine built by TensorRT `built` (the sidecar's `library_version`) must not
 * run on this TensorRT (`here`: major, minor, patch, build); "" when it may.
 *
 * The rule of the Python _library_diff for "tensorrt": the same version, or with
 * `version_compatible` the same major and this one not older, or a TensorRT 10 engine on
 * TensorRT 11. Only as many parts as `built` has are compared (a sidecar "10.3.0", what older
 * TensorRT wheels call themselves, does not demand a build number; "10.3.0.26" is exact to
 * the build). Messages are Python's.
 */
std::string library_version_diff(const std::string& built, bool version_compatible,
                                 const std::vector<int64_t>& here);

/**
 * The Python _device_diffs (without the profile comparison): the GPU's compute capability must
 * be one of the sidecar's `compute_capabilities`; the GPU model must be the sidecar's
 * `gpu_name` only when that is not empty (a build for named targets is not tied to one card).
 */
std::vector<std::string> device_diffs(const Sidecar& sidecar, const Platform& here);

/** Every difference between the engine's build platform and `here` ("; "-joined, "" if none). */
std::string platform_diffs(const Sidecar& sidecar, const Platform& here);

/**
 * check_library, then platform_diffs: Failure(NST_ERR_ENGINE_INCOMPATIBLE)
 * "<plan> does not match this machine: <diffs>; rebuild it with: <build_command>".
 */
void check_platform(const Sidecar& sidecar, const Platform& here, const std::string& plan);

/**
 * The sidecar's `io_dtypes` must be the engine's real I/O tensors and dtypes (`engine`: every
 * I/O tensor TensorRT lists -> numpy_dtype_name of its DataType, trt_io.hpp). Throws
 * Failure(NST_ERR_MODEL_INVALID) listing every tensor that is missing on either side or whose
 * dtype differs: the sidecar does not describe this engine. (Agreement is not acceptance: the
 * C ABI still needs FP32 I/O, check_io_tensor.)
 */
void check_io_dtypes(const std::map<std::string, std::string>& recorded,
                     const std::map<std::string, std::string>& engine, const std::string& source);

}  // namespace nst::detail

#endif  // NST_SRC_TRT_SIDECAR_HPP
