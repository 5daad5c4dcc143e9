// TensorRT backend, compiled only with -DNST_WITH_TENSORRT=ON. Written to the TensorRT 10 C++
// API (IRuntime::deserializeCudaEngine, IExecutionContext::setInputShape / setTensorAddress /
// enqueueV3) and the CUDA runtime API. NOT COMPILED OR RUN in nst's CI (no GPU, no TensorRT):
// see README.md, "What is verified".
//
// The engine `model.plan` is loaded only with the sidecar `model.plan.json` that
// `nst build-engine` writes (runtime/sidecar.py, format 1), and checked like the Python
// check_compat: `trt_version` (exact; with `version_compatible`, same major and this one not older),
// `compute_capability` and `gpu_name` against this GPU; any difference is
// NST_ERR_ENGINE_INCOMPATIBLE with the sidecar's `build_command`. The I/O contract comes from
// `model_metadata` (the ONNX model's nst.family / nst.io); size limits from profile 0.
#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend.hpp"

namespace nst::detail {
namespace {

using nlohmann::json;

class Logger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* message) noexcept override {
    if (severity <= Severity::kERROR) last = message;
  }
  std::string last;
};

void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw Failure(NST_ERR_INFERENCE, std::string(what) + ": " + cudaGetErrorString(status));
  }
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(NST_ERR_FILE_NOT_FOUND, "cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

json read_sidecar(const std::string& plan) {
  const std::string path = plan + ".json";
  std::ifstream in(path);
  if (!in) {
    throw Failure(NST_ERR_MODEL_INVALID, path + " not found: engines are loaded only with the " +
                                             "sidecar nst build-engine writes; rebuild the engine");
  }
  json sidecar;
  try {
    sidecar = json::parse(in);
  } catch (const json::exception& e) {
    throw Failure(NST_ERR_MODEL_INVALID, path + " is not valid JSON: " + e.what());
  }
  if (!sidecar.is_object() || sidecar.value("format", 0) != 1) {
    throw Failure(NST_ERR_MODEL_INVALID, path + " is not an nst engine sidecar of format 1");
  }
  return sidecar;
}

/** "10.7.0.23" -> {10, 7, 0}: the parts getInferLibVersion() reports. */
std::vector<int> version_parts(const std::string& text) {
  std::vector<int> parts;
  size_t start = 0;
  while (parts.size() < 3 && start <= text.size()) {
    parts.push_back(std::atoi(text.c_str() + start));
    const size_t dot = text.find('.', start);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  parts.resize(3, 0);
  return parts;
}

/** Every difference between the engine's build platform and this one ("" when none). */
std::string platform_diffs(const json& sidecar) {
  const int32_t v = getInferLibVersion();  // (major * 100 + minor) * 100 + patch in TensorRT 10
  const std::vector<int> here{v / 10000, v / 100 % 100, v % 100};
  const std::string built = sidecar.value("trt_version", "");
  const std::vector<int> engine = version_parts(built);
  const bool ok = sidecar.value("version_compatible", false)
                      ? engine[0] == here[0] && here >= engine
                      : engine == here;
  std::string diffs;
  auto add = [&diffs](const std::string& d) { diffs += (diffs.empty() ? "" : "; ") + d; };
  if (!ok) {
    add("TensorRT " + built + " (engine) vs " + std::to_string(here[0]) + "." +
        std::to_string(here[1]) + "." + std::to_string(here[2]) + " here");
  }
  int device = 0;
  cudaDeviceProp prop{};
  cuda_check(cudaGetDevice(&device), "cudaGetDevice");
  cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  const std::string cc = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  if (sidecar.value("compute_capability", "") != cc) {
    add("compute capability " + sidecar.value("compute_capability", "?") + " (engine) vs " + cc +
        " here");
  }
  if (sidecar.value("gpu_name", "") != prop.name) {
    add("GPU '" + sidecar.value("gpu_name", "?") + "' (engine) vs '" + prop.name + "' here");
  }
  return diffs;
}

class TrtBackend final : public Backend {
 public:
  TrtBackend(const std::string& path, const nst_options&) {
    const json sidecar = read_sidecar(path);
    const std::string diffs = platform_diffs(sidecar);
    if (!diffs.empty()) {
      throw Failure(NST_ERR_ENGINE_INCOMPATIBLE,
                    path + " does not match this machine: " + diffs + "; rebuild it with: " +
                        sidecar.value("build_command", "nst build-engine MODEL.onnx -o " + path));
    }
    const std::vector<char> blob = read_file(path);
    runtime_.reset(nvinfer1::createInferRuntime(logger_));
    if (runtime_) engine_.reset(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
    if (!engine_) {
      throw Failure(NST_ERR_MODEL_INVALID, "cannot deserialize engine " + path + ": " + logger_.last);
    }
    context_.reset(engine_->createExecutionContext());
    if (!context_) throw Failure(NST_ERR_OUT_OF_MEMORY, "cannot create a TensorRT context");
    cuda_check(cudaStreamCreate(&stream_), "cudaStreamCreate");
    read_io(sidecar, path);
  }

  ~TrtBackend() override {
    cudaFree(device_in_);
    cudaFree(device_out_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  void run(const float* input, float* output, int32_t height, int32_t width) override {
    const size_t bytes = sizeof(float) * 3 * static_cast<size_t>(height) * static_cast<size_t>(width);
    reserve(bytes);
    nvinfer1::Dims shape{};
    shape.nbDims = 4;
    shape.d[0] = 1;
    shape.d[1] = 3;
    shape.d[2] = height;
    shape.d[3] = width;
    const char* in = info_.input_name.c_str();
    const char* out = info_.output_name.c_str();
    cuda_check(cudaMemcpyAsync(device_in_, input, bytes, cudaMemcpyHostToDevice, stream_), "copy in");
    if (!context_->setInputShape(in, shape) || !context_->setTensorAddress(in, device_in_) ||
        !context_->setTensorAddress(out, device_out_) || !context_->enqueueV3(stream_)) {
      throw Failure(NST_ERR_INFERENCE, "TensorRT failed: " + logger_.last);
    }
    cuda_check(cudaMemcpyAsync(output, device_out_, bytes, cudaMemcpyDeviceToHost, stream_), "copy out");
    cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

 private:
  void read_io(const json& sidecar, const std::string& path) {
    const json meta = sidecar.value("model_metadata", json::object());
    if (meta.contains("nst.io")) {
      info_ = parse_model_info(meta.value("nst.family", "?"), meta["nst.io"].get<std::string>(),
                               path + ".json");
    } else {
      for (int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
        const char* name = engine_->getIOTensorName(i);
        const bool is_input = engine_->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
        (is_input ? info_.input_name : info_.output_name) = name;
      }
      info_.family = meta.value("nst.family", "?");
    }
    if (engine_->getNbIOTensors() != 2 || info_.input_name.empty() || info_.output_name.empty()) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED, path + ": the C ABI runs single-image engines");
    }
    const char* in = info_.input_name.c_str();
    const nvinfer1::Dims low = engine_->getProfileShape(in, 0, nvinfer1::OptProfileSelector::kMIN);
    const nvinfer1::Dims high = engine_->getProfileShape(in, 0, nvinfer1::OptProfileSelector::kMAX);
    if (low.nbDims != 4 || high.nbDims != 4 || low.d[0] > 1) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED, path + ": profile 0 must allow (1, 3, H, W)");
    }
    info_.min_size = std::max<int32_t>(info_.min_size, static_cast<int32_t>(std::max(low.d[2], low.d[3])));
    info_.max_height = static_cast<int32_t>(high.d[2]);
    info_.max_width = static_cast<int32_t>(high.d[3]);
  }

  void reserve(size_t bytes) {
    if (bytes <= capacity_) return;
    cudaFree(device_in_);
    cudaFree(device_out_);
    device_in_ = device_out_ = nullptr;
    capacity_ = 0;
    cuda_check(cudaMalloc(&device_in_, bytes), "cudaMalloc");
    cuda_check(cudaMalloc(&device_out_, bytes), "cudaMalloc");
    capacity_ = bytes;
  }

  Logger logger_;
  // Destroyed in reverse order: context, engine, runtime (TensorRT requires it).
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  cudaStream_t stream_ = nullptr;
  void* device_in_ = nullptr;
  void* device_out_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_trt_backend(const std::string& path, const nst_options& options) {
  return std::make_unique<TrtBackend>(path, options);
}

}  // namespace nst::detail
