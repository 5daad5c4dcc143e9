// The TensorRT backend's I/O checks (trt_io.hpp: dtypes, the sidecar's io_dtypes names, layout,
// location) and version decoding, compiled against the
// real TensorRT headers (TENSORRT_INCLUDE_DIR) and run. Only TensorRT's enums, Dims and version
// macros are used, so this links without libnvinfer and runs without a GPU.
//
// usage: test_trt_io
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "trt_checks.hpp"
#include "trt_io.hpp"
#include "trt_sidecar.hpp"

namespace {

using nst::detail::Failure;
using nvinfer1::DataType;
using nvinfer1::TensorFormat;
using nvinfer1::TensorLocation;

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what.c_str());
  failures += ok ? 0 : 1;
}

/** check_io_tensor's verdict: "" when accepted, else the message (status must be UNSUPPORTED). */
std::string verdict(DataType type, TensorFormat format, TensorLocation location) {
  try {
    nst::detail::check_io_tensor("image", type, format, location, "m.plan");
  } catch (const Failure& e) {
    return e.status == NST_ERR_MODEL_UNSUPPORTED ? e.what() : "wrong status";
  }
  return "";
}

}  // namespace

int main() {
  // The encoding of these headers' NV_TENSORRT_VERSION is what decode_trt_version reads back.
  const std::vector<int64_t> header{NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH};
  check(nst::detail::decode_trt_version(static_cast<int32_t>(NV_TENSORRT_VERSION)) == header,
        "decode_trt_version(NV_TENSORRT_VERSION = " + std::to_string(NV_TENSORRT_VERSION) +
            ") is " + nst::detail::format_version(header));

  check(verdict(DataType::kFLOAT, TensorFormat::kLINEAR, TensorLocation::kDEVICE).empty(),
        "FP32 linear device tensor accepted");
  const DataType refused[] = {DataType::kHALF, DataType::kBF16, DataType::kINT8, DataType::kUINT8,
                              DataType::kINT32, DataType::kINT64, DataType::kFP8, DataType::kBOOL};
  for (const DataType type : refused) {
    const std::string name = nst::detail::dtype_name(type);
    const std::string message = verdict(type, TensorFormat::kLINEAR, TensorLocation::kDEVICE);
    check(message.find("tensor 'image' is " + name + "; the C ABI runs engines with FP32") !=
              std::string::npos,
          name + " refused: " + message);
  }
  check(nst::detail::dtype_name(DataType::kHALF) == "FP16", "kHALF is named FP16");
  const std::string layout = verdict(DataType::kFLOAT, TensorFormat::kHWC, TensorLocation::kDEVICE);
  check(layout.find("vectorized layout") != std::string::npos, "kHWC refused: " + layout);
  const std::string host = verdict(DataType::kFLOAT, TensorFormat::kLINEAR, TensorLocation::kHOST);
  check(host.find("lives on the host") != std::string::npos, "host tensor refused: " + host);

  // io_dtypes records numpy's names (trt.nptype): the engine's DataType must read back as them.
  using nst::detail::numpy_dtype_name;
  check(numpy_dtype_name(DataType::kFLOAT) == "float32" &&
            numpy_dtype_name(DataType::kHALF) == "float16" &&
            numpy_dtype_name(DataType::kINT8) == "int8" &&
            numpy_dtype_name(DataType::kINT32) == "int32" &&
            numpy_dtype_name(DataType::kINT64) == "int64" &&
            numpy_dtype_name(DataType::kUINT8) == "uint8" &&
            numpy_dtype_name(DataType::kBOOL) == "bool" &&
            numpy_dtype_name(DataType::kBF16) == "bfloat16",
        "numpy_dtype_name gives numpy's names");
  const std::map<std::string, std::string> fp32{{"image", "float32"}, {"stylized", "float32"}};
  const std::string half = numpy_dtype_name(DataType::kHALF);
  const std::map<std::string, std::string> fp16_engine{{"image", half}, {"stylized", half}};
  try {
    nst::detail::check_io_dtypes(fp32, fp16_engine, "m.plan.json");
    check(false, "an FP16-I/O engine under an FP32 io_dtypes sidecar passed");
  } catch (const Failure& e) {
    check(e.status == NST_ERR_MODEL_INVALID &&
              std::string(e.what()).find("'image' is float32 in io_dtypes, float16 in the "
                                         "engine") != std::string::npos,
          std::string("FP16 engine vs FP32 io_dtypes refused: ") + e.what());
  }
  // Agreement is not acceptance: a float16 sidecar of an FP16-I/O engine agrees, and the
  // FP32-only rule still refuses the tensor.
  nst::detail::check_io_dtypes(fp16_engine, fp16_engine, "m.plan.json");
  check(verdict(DataType::kHALF, TensorFormat::kLINEAR, TensorLocation::kDEVICE).find("is FP16") !=
            std::string::npos,
        "an agreeing float16 io_dtypes still meets the FP32-only rule");

  nvinfer1::Dims dims{};
  dims.nbDims = 4;
  dims.d[0] = 1;
  dims.d[1] = 3;
  dims.d[2] = 4 * 17;
  dims.d[3] = -1;
  check(nst::detail::dims_vector(dims) == std::vector<int64_t>{1, 3, 68, -1}, "Dims to vector");
  dims.nbDims = -1;
  check(nst::detail::dims_vector(dims).empty(), "invalid Dims (nbDims -1) is an empty shape");

  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
