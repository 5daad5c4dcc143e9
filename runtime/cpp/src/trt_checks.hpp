// Internal: the TensorRT backend's decisions that need neither TensorRT nor CUDA, as pure
// functions so the ctest suite runs them on any machine (tests/test_internals.cpp).
//
// - versions: decoding getInferLibVersion(), parsing and printing version strings (the
//   sidecar's rules over them are in trt_sidecar.hpp);
// - shapes: element counts and the output-shape check, from the shapes TensorRT reports
//   (IExecutionContext::getTensorShape), never assumed from the input's size.
#ifndef NST_SRC_TRT_CHECKS_HPP
#define NST_SRC_TRT_CHECKS_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nst::detail {

/**
 * getInferLibVersion() -> {major, minor, patch}.
 *
 * TensorRT 10 and later (11.1's NvInferRuntimeBase.h, NV_TENSORRT_VERSION_INT) encode
 * major * 10000 + minor * 100 + patch (11.1.0 -> 110100); TensorRT 9 and earlier encoded
 * major * 1000 + minor * 100 + patch (8.6.1 -> 8601). Every 10+ value is >= 100000 and every
 * older one below 10000, so the two never collide. Negative values -> {0, 0, 0}.
 */
std::vector<int64_t> decode_trt_version(int32_t encoded);

/** "10.3.0.26" -> {10, 3, 0, 26}: the digits of each dot-separated piece (none -> 0), as Python. */
std::vector<int64_t> parse_version(const std::string& text);

/** {11, 1, 0, 106} -> "11.1.0.106". */
std::string format_version(const std::vector<int64_t>& parts);

/** "(1, 3, 64, 96)". */
std::string format_shape(const std::vector<int64_t>& dims);

/**
 * Number of elements of a tensor of shape `dims`, as TensorRT reported it.
 *
 * Throws Failure(NST_ERR_INFERENCE) when the shape is empty or has an unresolved (negative)
 * dimension, and Failure(NST_ERR_OUT_OF_MEMORY) when the count overflows size_t.
 */
size_t tensor_elements(const std::vector<int64_t>& dims, const std::string& name);

/**
 * Check that the engine's output for a (1, 3, height, width) input is (1, 3, height, width):
 * the C ABI writes an image of the input's size into the caller's buffer, so anything else
 * (a super-resolution engine's 4x or 8x output, another channel count) would overflow it.
 *
 * Throws Failure(NST_ERR_MODEL_UNSUPPORTED) naming both shapes.
 */
void check_output_shape(const std::vector<int64_t>& output, int32_t height, int32_t width,
                        const std::string& name);

}  // namespace nst::detail

#endif  // NST_SRC_TRT_CHECKS_HPP
