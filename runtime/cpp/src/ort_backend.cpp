// ONNX Runtime backend (C++ API over the versioned C API; CPU execution provider).
//
// Same checks as runtime/onnxrt.py OrtRunner: the file must exist, load, carry nst metadata,
// and its graph inputs must be exactly the ones the metadata declares.
#include <onnxruntime_cxx_api.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "backend.hpp"

namespace nst::detail {
namespace {

/** One ORT environment per process (ORT wants exactly one; it owns the global thread pools). */
Ort::Env& environment() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "nst");
  return env;
}

/** First line of an ORT message, bounded, like the Python runner's messages. */
std::string first_line(const char* message) {
  std::string text(message);
  text = text.substr(0, text.find('\n'));
  return text.size() > 300 ? text.substr(0, 300) + "..." : text;
}

std::string metadata_value(const Ort::ModelMetadata& meta, const char* key) {
  Ort::AllocatorWithDefaultOptions allocator;
  Ort::AllocatedStringPtr value = meta.LookupCustomMetadataMapAllocated(key, allocator);
  return value ? std::string(value.get()) : std::string();
}

class OrtBackend final : public Backend {
 public:
  OrtBackend(const std::string& path, const nst_options& options) : path_(path) {
    Ort::SessionOptions session_options;
    session_options.SetIntraOpNumThreads(options.num_threads);
    session_options.SetLogSeverityLevel(ORT_LOGGING_LEVEL_ERROR);
    try {
      session_ = Ort::Session(environment(), path.c_str(), session_options);
    } catch (const Ort::Exception& e) {
      throw Failure(NST_ERR_MODEL_INVALID, "cannot load model " + path + ": " + first_line(e.what()));
    }
    read_metadata();
  }

  void run(const float* input, float* output, int32_t height, int32_t width) override {
    const std::array<int64_t, 4> shape{1, 3, height, width};
    const size_t count = static_cast<size_t>(height) * static_cast<size_t>(width) * 3;
    Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const char* input_name = info_.input_name.c_str();
    const char* output_name = info_.output_name.c_str();
    try {
      // ORT only reads the input tensor; the C API takes a non-const pointer regardless.
      Ort::Value in = Ort::Value::CreateTensor<float>(memory, const_cast<float*>(input), count,
                                                      shape.data(), shape.size());
      Ort::Value out = Ort::Value::CreateTensor<float>(memory, output, count, shape.data(),
                                                       shape.size());
      session_.Run(Ort::RunOptions{nullptr}, &input_name, &in, 1, &output_name, &out, 1);
    } catch (const Ort::Exception& e) {
      throw Failure(NST_ERR_INFERENCE, "ONNX Runtime failed on " +
                                           std::filesystem::path(path_).filename().string() +
                                           ": " + first_line(e.what()));
    }
  }

 private:
  void read_metadata() {
    const Ort::ModelMetadata meta = session_.GetModelMetadata();
    const std::string family = metadata_value(meta, "nst.family");
    const std::string io = metadata_value(meta, "nst.io");
    if (family.empty() || io.empty()) {
      throw Failure(NST_ERR_MODEL_INVALID, path_ + " has no nst metadata (nst.family, nst.io); " +
                                               "export it with `nst export`");
    }
    info_ = parse_model_info(family, io, path_);
    Ort::AllocatorWithDefaultOptions allocator;
    std::vector<std::string> inputs;
    for (size_t i = 0; i < session_.GetInputCount(); ++i) {
      inputs.emplace_back(session_.GetInputNameAllocated(i, allocator).get());
    }
    if (inputs.size() != 1 || inputs[0] != info_.input_name) {
      std::string got;
      for (const std::string& name : inputs) got += (got.empty() ? "" : ", ") + name;
      throw Failure(NST_ERR_MODEL_INVALID, path_ + ": graph inputs [" + got +
                                               "] do not match metadata [" + info_.input_name + "]");
    }
    bool has_output = false;
    for (size_t i = 0; i < session_.GetOutputCount(); ++i) {
      has_output |= session_.GetOutputNameAllocated(i, allocator).get() == info_.output_name;
    }
    if (!has_output) {
      throw Failure(NST_ERR_MODEL_INVALID,
                    path_ + ": graph has no output " + info_.output_name + " named in its metadata");
    }
  }

  std::string path_;
  Ort::Session session_{nullptr};
};

}  // namespace

std::unique_ptr<Backend> make_ort_backend(const std::string& path, const nst_options& options) {
  return std::make_unique<OrtBackend>(path, options);
}

}  // namespace nst::detail
