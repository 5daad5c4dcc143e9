/* nst C ABI: run an exported nst style-transfer model from any C or C++ host.
 *
 *     nst_stylizer* s = nst_stylizer_create("model.onnx", NULL);
 *     if (!s) { fprintf(stderr, "%s\n", nst_last_error()); return 1; }
 *     if (nst_stylize(s, rgb, width, height, width * 3, out) != NST_OK) { ... nst_last_error() ... }
 *     nst_stylizer_destroy(s);
 *
 * Images are 8-bit interleaved RGB, rows `stride` bytes apart. Any width and height >= the
 * model's minimum size work: the exported graph pads to its stride multiple and crops back, as
 * in the Python runtime (nst.runtime.Stylizer).
 *
 * Errors: every fallible call reports an nst_status; the failing call's message is kept per
 * thread and read with nst_last_error() (a successful create/stylize clears it).
 */
#ifndef NST_NST_H
#define NST_NST_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(NST_BUILDING)
#define NST_API __declspec(dllexport)
#elif defined(_WIN32)
#define NST_API __declspec(dllimport)
#elif defined(__GNUC__)
#define NST_API __attribute__((visibility("default")))
#else
#define NST_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Result codes; the numeric values are part of the ABI and never change. */
typedef enum nst_status {
  NST_OK = 0,
  NST_ERR_INVALID_ARGUMENT = 1,    /**< NULL pointer, bad stride or size, bad options */
  NST_ERR_FILE_NOT_FOUND = 2,      /**< the model file does not exist */
  NST_ERR_MODEL_INVALID = 3,       /**< corrupt model, missing/broken nst metadata, wrong I/O */
  NST_ERR_MODEL_UNSUPPORTED = 4,   /**< a valid nst model this ABI cannot run (extra inputs) */
  NST_ERR_IMAGE_TOO_SMALL = 5,     /**< width or height below the model's min_size */
  NST_ERR_IMAGE_TOO_LARGE = 6,     /**< above a TensorRT engine's profile maximum */
  NST_ERR_BACKEND_UNAVAILABLE = 7, /**< e.g. a TensorRT engine in a build without TensorRT */
  NST_ERR_ENGINE_INCOMPATIBLE = 8, /**< engine built for another TensorRT or GPU */
  NST_ERR_INFERENCE = 9,           /**< the backend failed while running the model */
  NST_ERR_OUT_OF_MEMORY = 10,
  NST_ERR_INTERNAL = 11            /**< a bug in nst; please report it */
} nst_status;

typedef enum nst_backend {
  NST_BACKEND_AUTO = 0,        /**< by suffix: .plan/.engine -> TensorRT, else ONNX Runtime */
  NST_BACKEND_ONNXRUNTIME = 1, /**< ONNX Runtime, CPU execution provider */
  NST_BACKEND_TENSORRT = 2     /**< only in builds configured with -DNST_WITH_TENSORRT=ON */
} nst_backend;

/** Options for nst_stylizer_create; fill with nst_options_init first, then change fields. */
typedef struct nst_options {
  uint32_t struct_size; /**< sizeof(nst_options), set by nst_options_init */
  nst_backend backend;
  int32_t num_threads;  /**< ONNX Runtime intra-op threads; 0 = ONNX Runtime's default */
} nst_options;

typedef struct nst_stylizer nst_stylizer; /**< opaque handle */

/** Default options: AUTO backend, default thread count. */
NST_API void nst_options_init(nst_options* options);

/** Load a model (NULL options = defaults). Returns NULL on failure; see nst_last_error(). */
NST_API nst_stylizer* nst_stylizer_create(const char* model_path, const nst_options* options);

/** Stylize one 8-bit RGB image into `out`, which has the same layout (width x height, rows
 * `stride` >= 3 * width bytes apart; only the first 3 * width bytes of each row are written).
 * `out` may alias `rgb`. A handle must not be used by two threads at once. */
NST_API nst_status nst_stylize(nst_stylizer* stylizer, const uint8_t* rgb, int32_t width,
                               int32_t height, size_t stride, uint8_t* out);

/** Release a handle; NULL is a no-op. */
NST_API void nst_stylizer_destroy(nst_stylizer* stylizer);

/** Smallest width and height the model accepts (from its nst.io metadata); -1 for NULL. */
NST_API int32_t nst_stylizer_min_size(const nst_stylizer* stylizer);

/** Model family from the metadata, e.g. "johnson"; "" for NULL. Valid while the handle lives. */
NST_API const char* nst_stylizer_family(const nst_stylizer* stylizer);

/** Message of the last failed call on this thread ("" if none). Valid until the next nst call
 * on this thread. */
NST_API const char* nst_last_error(void);

/** Status of the last failed call on this thread (NST_OK if none). */
NST_API nst_status nst_last_status(void);

/** Stable name of a status, e.g. "NST_ERR_IMAGE_TOO_SMALL". */
NST_API const char* nst_status_name(nst_status status);

/** Library version, e.g. "0.1.0". */
NST_API const char* nst_version(void);

#ifdef __cplusplus
}
#endif

#endif /* NST_NST_H */
