// TensorRT backend, compiled only with -DNST_WITH_TENSORRT=ON. Written to the TensorRT 11 C++
// runtime API (IRuntime::deserializeCudaEngine, the name-based I/O tensor API, setInputShape /
// getTensorShape / setTensorAddress / enqueueV3) and the CUDA runtime API. CI compiles it
// against the TensorRT 11.1 and CUDA 13 headers (-DNST_TRT_COMPILE_ONLY=ON); it has never been
// linked or run: see README.md, "TensorRT backend".
//
// The engine `model.plan` is loaded only with the sidecar `model.plan.json` that
// `nst build-engine` writes (runtime/trt/sidecar.py, format 2; trt_sidecar.hpp), and checked
// like the Python check_compat before it is deserialized: `library` must be "tensorrt"
// (TensorRT-RTX engines need the RTX runtime), `library_version` against this libnvinfer
// (exact; with `version_compatible`, same major and this one not older, or TensorRT 11 for a
// 10 engine), this GPU's compute capability one of `compute_capabilities`, and its name
// `gpu_name` when that is set; any difference is NST_ERR_ENGINE_INCOMPATIBLE with the sidecar's
// `build_command`. After deserializing, `io_dtypes` must be the engine's real I/O dtypes. The
// I/O contract comes from `model_metadata` (the ONNX model's nst.family / nst.io); size limits
// from profile 0; dtypes, layouts and output shapes from the engine itself.
#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "trt_checks.hpp"
#include "trt_io.hpp"
#include "trt_sidecar.hpp"

namespace nst::detail {
namespace {

class Logger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* message) noexcept override {
    if (severity <= Severity::kERROR) last = message;
  }
  /** The last error TensorRT logged, or a placeholder; cleared by taking it. */
  std::string take() {
    std::string message = last.empty() ? std::string("no error logged") : last;
    last.clear();
    return message;
  }
  std::string last;
};

void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw Failure(status == cudaErrorMemoryAllocation ? NST_ERR_OUT_OF_MEMORY : NST_ERR_INFERENCE,
                  std::string(what) + ": " + cudaGetErrorString(status));
  }
}

struct StreamDeleter {
  void operator()(cudaStream_t stream) const { cudaStreamDestroy(stream); }
};
struct DeviceDeleter {
  void operator()(void* memory) const { cudaFree(memory); }
};
using Stream = std::unique_ptr<CUstream_st, StreamDeleter>;
using DeviceBuffer = std::unique_ptr<void, DeviceDeleter>;

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(NST_ERR_FILE_NOT_FOUND, "cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Sidecar read_sidecar(const std::string& plan) {
  const std::string path = plan + ".json";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Failure(NST_ERR_MODEL_INVALID,
                  path + " not found: engines are loaded only with the sidecar nst build-engine "
                         "writes; rebuild it with `" + default_build_command(plan) + "`");
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_sidecar(text, path, plan);
}

/** This TensorRT library and the current CUDA device, as the sidecar rules see them. */
Platform current_platform() {
  Platform here;
  here.library_version = decode_trt_version(getInferLibVersion());
  here.library_version.push_back(getInferLibBuildVersion());
  int device = 0;
  const cudaError_t status = cudaGetDevice(&device);
  if (status != cudaSuccess) {
    throw Failure(NST_ERR_BACKEND_UNAVAILABLE,
                  std::string("no CUDA device for TensorRT: ") + cudaGetErrorString(status));
  }
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  here.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  here.gpu_name = prop.name;
  return here;
}

nvinfer1::Dims image_dims(int64_t height, int64_t width) {
  nvinfer1::Dims shape{};
  shape.nbDims = 4;
  shape.d[0] = 1;
  shape.d[1] = 3;
  shape.d[2] = height;
  shape.d[3] = width;
  return shape;
}

class TrtBackend final : public Backend {
 public:
  TrtBackend(const std::string& path, const nst_options&) : path_(path) {
    const Sidecar sidecar = read_sidecar(path);
    check_library(sidecar, path);  // before CUDA: an RTX engine is refused on any machine
    check_platform(sidecar, current_platform(), path);
    const std::vector<char> blob = read_file(path);
    runtime_.reset(nvinfer1::createInferRuntime(logger_));
    if (!runtime_) throw Failure(NST_ERR_BACKEND_UNAVAILABLE, "cannot create a TensorRT runtime");
    if (sidecar.version_compatible) {
      runtime_->setEngineHostCodeAllowed(true);  // such engines embed their lean runtime
    }
    engine_.reset(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
    if (!engine_) {
      throw Failure(NST_ERR_MODEL_INVALID,
                    "cannot deserialize engine " + path + ": " + logger_.take());
    }
    context_.reset(engine_->createExecutionContext());
    if (!context_) throw Failure(NST_ERR_OUT_OF_MEMORY, "cannot create a TensorRT context");
    read_io(sidecar);
    cudaStream_t stream = nullptr;
    cuda_check(cudaStreamCreate(&stream), "cudaStreamCreate");
    stream_.reset(stream);
  }

  ~TrtBackend() override {
    if (stream_) cudaStreamSynchronize(stream_.get());  // nothing in flight when buffers go
  }

  void run(const float* input, float* output, int32_t height, int32_t width) override {
    const char* in = info_.input_name.c_str();
    const char* out = info_.output_name.c_str();
    if (!context_->setInputShape(in, image_dims(height, width))) {
      throw Failure(NST_ERR_INFERENCE, "TensorRT rejected input shape " +
                                           format_shape({1, 3, height, width}) + ": " +
                                           logger_.take());
    }
    // Sizes from the shapes TensorRT computes for this input, never from the input's bytes.
    const std::vector<int64_t> in_shape = dims_vector(context_->getTensorShape(in));
    const std::vector<int64_t> out_shape = dims_vector(context_->getTensorShape(out));
    const size_t in_bytes = sizeof(float) * tensor_elements(in_shape, info_.input_name);
    const size_t out_bytes = sizeof(float) * tensor_elements(out_shape, info_.output_name);
    check_output_shape(out_shape, height, width, info_.output_name);  // out_bytes fits `output`
    reserve(device_in_, in_capacity_, in_bytes);
    reserve(device_out_, out_capacity_, out_bytes);
    cuda_check(cudaMemcpyAsync(device_in_.get(), input, in_bytes, cudaMemcpyHostToDevice,
                               stream_.get()),
               "copy to the GPU");
    if (!context_->setTensorAddress(in, device_in_.get()) ||
        !context_->setTensorAddress(out, device_out_.get()) ||
        !context_->enqueueV3(stream_.get())) {
      cudaStreamSynchronize(stream_.get());
      throw Failure(NST_ERR_INFERENCE, "TensorRT failed on " + path_ + ": " + logger_.take());
    }
    cuda_check(cudaMemcpyAsync(output, device_out_.get(), out_bytes, cudaMemcpyDeviceToHost,
                               stream_.get()),
               "copy from the GPU");
    cuda_check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  }

 private:
  void read_io(const Sidecar& sidecar) {
    const std::string source = path_ + ".json";
    std::map<std::string, std::string> dtypes;  // every I/O tensor the engine really has
    for (int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
      const char* name = engine_->getIOTensorName(i);
      if (name != nullptr) dtypes.emplace(name, numpy_dtype_name(engine_->getTensorDataType(name)));
    }
    check_io_dtypes(sidecar.io_dtypes, dtypes, source);
    const auto& meta = sidecar.model_metadata;
    const auto text = [&](const char* key) {
      const auto it = meta.find(key);
      return it != meta.end() ? it->second : std::string();
    };
    const std::string family = text("nst.family").empty() ? "?" : text("nst.family");
    if (!text("nst.io").empty()) {
      info_ = parse_model_info(family, text("nst.io"), source);
    } else {
      for (int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
        const char* name = engine_->getIOTensorName(i);
        const bool is_input = engine_->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
        (is_input ? info_.input_name : info_.output_name) = name;
      }
      info_.family = family;
    }
    if (engine_->getNbIOTensors() != 2 || info_.input_name.empty() || info_.output_name.empty()) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED, path_ + ": the C ABI runs single-image engines");
    }
    const nvinfer1::TensorIOMode modes[] = {nvinfer1::TensorIOMode::kINPUT,
                                            nvinfer1::TensorIOMode::kOUTPUT};
    const std::string names[] = {info_.input_name, info_.output_name};
    for (size_t i = 0; i < 2; ++i) {
      const char* name = names[i].c_str();
      if (engine_->getTensorIOMode(name) != modes[i]) {
        throw Failure(NST_ERR_MODEL_INVALID, path_ + ": the engine has no " +
                                                 (i == 0 ? "input" : "output") + " '" +
                                                 names[i] + "' named in " + source);
      }
      check_io_tensor(names[i], engine_->getTensorDataType(name), engine_->getTensorFormat(name, 0),
                      engine_->getTensorLocation(name), path_);
    }
    read_profile();
  }

  /** Size limits from optimisation profile 0, and one shape probe of the output. */
  void read_profile() {
    const char* in = info_.input_name.c_str();
    const auto profile = [&](nvinfer1::OptProfileSelector which) {
      return dims_vector(engine_->getProfileShape(in, 0, which));
    };
    const std::vector<int64_t> low = profile(nvinfer1::OptProfileSelector::kMIN);
    const std::vector<int64_t> opt = profile(nvinfer1::OptProfileSelector::kOPT);
    const std::vector<int64_t> high = profile(nvinfer1::OptProfileSelector::kMAX);
    const auto image = [](const std::vector<int64_t>& d) { return d.size() == 4 && d[1] == 3; };
    if (!image(low) || !image(opt) || !image(high) || low[0] > 1 || high[0] < 1) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED, path_ + ": profile 0 must allow (1, 3, H, W), has " +
                                                   format_shape(low) + " to " + format_shape(high));
    }
    info_.min_size = std::max<int32_t>(info_.min_size,
                                       static_cast<int32_t>(std::max(low[2], low[3])));
    constexpr int64_t largest = std::numeric_limits<int32_t>::max();
    info_.max_height = static_cast<int32_t>(std::min(high[2], largest));
    info_.max_width = static_cast<int32_t>(std::min(high[3], largest));
    // Refuse an engine whose output is not the input's size (sr) at load, not at the first run.
    const int32_t h = static_cast<int32_t>(opt[2]), w = static_cast<int32_t>(opt[3]);
    if (!context_->setInputShape(in, image_dims(h, w))) {
      throw Failure(NST_ERR_MODEL_INVALID, path_ + ": TensorRT rejects its own profile shape " +
                                               format_shape(opt) + ": " + logger_.take());
    }
    check_output_shape(dims_vector(context_->getTensorShape(info_.output_name.c_str())), h, w,
                       info_.output_name);
  }

  void reserve(DeviceBuffer& buffer, size_t& capacity, size_t bytes) {
    if (bytes <= capacity) return;
    buffer.reset();
    capacity = 0;
    void* memory = nullptr;
    cuda_check(cudaMalloc(&memory, bytes), "cudaMalloc");
    buffer.reset(memory);
    capacity = bytes;
  }

  std::string path_;
  Logger logger_;  // outlives the runtime, which logs to it
  // Destroyed in reverse order: buffers, stream, context, engine, runtime (TensorRT requires
  // context before engine before runtime).
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  Stream stream_;
  DeviceBuffer device_in_;
  DeviceBuffer device_out_;
  size_t in_capacity_ = 0;
  size_t out_capacity_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_trt_backend(const std::string& path, const nst_options& options) {
  return std::make_unique<TrtBackend>(path, options);
}

}  // namespace nst::detail
