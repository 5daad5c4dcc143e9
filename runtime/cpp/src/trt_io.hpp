// Internal: what the TensorRT backend accepts as an I/O tensor, over TensorRT's own enums.
//
// Header-only and free of TensorRT library calls (enums and Dims only), so
// tests/test_trt_io.cpp compiles it against the real TensorRT headers and runs it without
// libnvinfer or a GPU.
#ifndef NST_SRC_TRT_IO_HPP
#define NST_SRC_TRT_IO_HPP

#include <NvInferRuntime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backend.hpp"

static_assert(NV_TENSORRT_MAJOR >= 10,
              "the nst TensorRT backend needs TensorRT 10 or later (enqueueV3, 64-bit Dims)");

namespace nst::detail {

/** "FP32", "FP16", ... for messages. */
inline std::string dtype_name(nvinfer1::DataType type) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT: return "FP32";
    case nvinfer1::DataType::kHALF: return "FP16";
    case nvinfer1::DataType::kINT8: return "INT8";
    case nvinfer1::DataType::kINT32: return "INT32";
    case nvinfer1::DataType::kBOOL: return "BOOL";
    case nvinfer1::DataType::kUINT8: return "UINT8";
    case nvinfer1::DataType::kFP8: return "FP8";
    case nvinfer1::DataType::kBF16: return "BF16";
    case nvinfer1::DataType::kINT64: return "INT64";
    case nvinfer1::DataType::kINT4: return "INT4";
    case nvinfer1::DataType::kFP4: return "FP4";
    case nvinfer1::DataType::kE8M0: return "E8M0";
  }
  return "DataType " + std::to_string(static_cast<int32_t>(type));
}

/**
 * The dtype name the sidecar's `io_dtypes` records for `type`: numpy's name of
 * `trt.nptype(type)` (runtime/trt/build.py network_io), e.g. kFLOAT -> "float32",
 * kHALF -> "float16". Types numpy lacks get the ml_dtypes names ("bfloat16", "float8_e4m3fn",
 * ...); nst's builder could not record those, so such an engine never matches its sidecar.
 */
inline std::string numpy_dtype_name(nvinfer1::DataType type) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT: return "float32";
    case nvinfer1::DataType::kHALF: return "float16";
    case nvinfer1::DataType::kINT8: return "int8";
    case nvinfer1::DataType::kINT32: return "int32";
    case nvinfer1::DataType::kBOOL: return "bool";
    case nvinfer1::DataType::kUINT8: return "uint8";
    case nvinfer1::DataType::kFP8: return "float8_e4m3fn";
    case nvinfer1::DataType::kBF16: return "bfloat16";
    case nvinfer1::DataType::kINT64: return "int64";
    case nvinfer1::DataType::kINT4: return "int4";
    case nvinfer1::DataType::kFP4: return "float4_e2m1fn";
    case nvinfer1::DataType::kE8M0: return "float8_e8m0fnu";
  }
  return "DataType " + std::to_string(static_cast<int32_t>(type));
}

/**
 * Refuse an engine I/O tensor the C ABI cannot fill or read byte for byte: it hands TensorRT
 * float32 NCHW planes on the device, so anything but FP32, linear layout, on the device is
 * Failure(NST_ERR_MODEL_UNSUPPORTED), never a silent reinterpretation of the bytes. (FP16 I/O
 * would need a host conversion nst does not do; `nst build-engine` keeps FP32 I/O under --fp16.)
 */
inline void check_io_tensor(const std::string& name, nvinfer1::DataType type,
                            nvinfer1::TensorFormat format, nvinfer1::TensorLocation location,
                            const std::string& source) {
  if (type != nvinfer1::DataType::kFLOAT) {
    throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                  source + ": tensor '" + name + "' is " + dtype_name(type) +
                      "; the C ABI runs engines with FP32 inputs and outputs (rebuild the "
                      "engine from the FP32 ONNX model; --fp16 keeps FP32 I/O)");
  }
  if (format != nvinfer1::TensorFormat::kLINEAR) {
    throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                  source + ": tensor '" + name + "' has a vectorized layout (TensorFormat " +
                      std::to_string(static_cast<int32_t>(format)) +
                      "); the C ABI needs linear NCHW I/O");
  }
  if (location != nvinfer1::TensorLocation::kDEVICE) {
    throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                  source + ": tensor '" + name + "' lives on the host; the C ABI needs device I/O");
  }
}

/** TensorRT's Dims (64-bit extents) -> the plain vector trt_checks.hpp works on. */
inline std::vector<int64_t> dims_vector(const nvinfer1::Dims& dims) {
  if (dims.nbDims < 0) return {};  // TensorRT's "invalid name" answer
  return std::vector<int64_t>(dims.d, dims.d + dims.nbDims);
}

}  // namespace nst::detail

#endif  // NST_SRC_TRT_IO_HPP
