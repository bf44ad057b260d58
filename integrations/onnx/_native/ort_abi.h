/*
 * ort_abi.h -- the subset of ONNX Runtime's C ABI that the WebNN plugin execution
 * provider uses, declared by this project (not copied from ORT's headers).
 *
 * How ORT's C ABI works, and what we rely on:
 *   - OrtGetApiBase()->GetApi(version) returns a table of function pointers (OrtApi).
 *     ORT only ever appends to that table, so a function keeps its slot number in every
 *     later release. We read the functions we need by slot number.
 *   - OrtApi::GetEpApi() returns a second append-only table (OrtEpApi).
 *   - The plugin fills three structs ORT calls into (OrtEpFactory, OrtEp,
 *     OrtNodeComputeInfo); each starts with `ort_version_supported`, and ORT reads no
 *     member newer than that version. We claim version 23 and fill the 1.23 members.
 *
 * Checked against: ONNX Runtime 1.32.0 (the installed wheel), whose API is a superset of
 * version 23. Slot numbers were counted from ORT's public onnxruntime_c_api.h and
 * onnxruntime_ep_c_api.h and cross-checked against ORT's own "size of version N API
 * cannot change" checkpoints (OrtApi: ReleaseCustomOpDomain = 101, ReleaseModelMetadata =
 * 118, SetGlobalSpinControl = 149, ReleaseKernelInfo = 218, SetEpDynamicOptions = 284,
 * GetEpApi = 317, CreateExternalInitializerInfo = 389; OrtEpApi:
 * GetSyncIdForLastWaitOnSyncStream = 15). Each entry below names the ORT release that
 * introduced it. The test suite exercises every one of them against the real runtime.
 */
#ifndef WEBNN_ORT_ABI_H
#define WEBNN_ORT_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The API version this shim asks for and claims in the structs it fills (ORT 1.23). */
#define WEBNN_ORT_API_VERSION 23u
/* The ORT release the declarations were last checked against. */
#define WEBNN_ORT_CHECKED_AGAINST "1.32.0"

/* ---- opaque ORT objects (only ever handled through pointers) ------------------------- */
typedef struct OrtStatus OrtStatus;
typedef struct OrtValue OrtValue;
typedef struct OrtTypeInfo OrtTypeInfo;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtLogger OrtLogger;
typedef struct OrtValueInfo OrtValueInfo;
typedef struct OrtNode OrtNode;
typedef struct OrtGraph OrtGraph;
typedef struct OrtOpAttr OrtOpAttr;
typedef struct OrtHardwareDevice OrtHardwareDevice;
typedef struct OrtEpDevice OrtEpDevice;
typedef struct OrtKeyValuePairs OrtKeyValuePairs;
typedef struct OrtEpGraphSupportInfo OrtEpGraphSupportInfo;
typedef struct OrtNodeComputeContext OrtNodeComputeContext;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtMemoryDevice OrtMemoryDevice;
typedef struct OrtAllocator OrtAllocator;
typedef struct OrtDataTransferImpl OrtDataTransferImpl;
typedef struct OrtSyncStreamImpl OrtSyncStreamImpl;
typedef struct OrtRunOptions OrtRunOptions;

/* ---- enums (values as ORT defines them) ------------------------------------------------ */
enum {  /* OrtErrorCode (1.0; EP_FAIL since 1.22) */
  WEBNN_ORT_OK = 0,
  WEBNN_ORT_FAIL = 1,
  WEBNN_ORT_INVALID_ARGUMENT = 2,
  WEBNN_ORT_NOT_IMPLEMENTED = 9,
  WEBNN_ORT_INVALID_GRAPH = 10,
  WEBNN_ORT_EP_FAIL = 11
};

enum {  /* ONNXType (1.0) */
  WEBNN_ONNX_TYPE_UNKNOWN = 0,
  WEBNN_ONNX_TYPE_TENSOR = 1
};

enum {  /* OrtOpAttrType (1.17; GRAPH and TENSOR since 1.23) */
  WEBNN_ATTR_UNDEFINED = 0,
  WEBNN_ATTR_INT = 1,
  WEBNN_ATTR_INTS = 2,
  WEBNN_ATTR_FLOAT = 3,
  WEBNN_ATTR_FLOATS = 4,
  WEBNN_ATTR_STRING = 5,
  WEBNN_ATTR_STRINGS = 6,
  WEBNN_ATTR_GRAPH = 7,
  WEBNN_ATTR_TENSOR = 8
};

enum {  /* OrtHardwareDeviceType (1.22) */
  WEBNN_HW_CPU = 0,
  WEBNN_HW_GPU = 1,
  WEBNN_HW_NPU = 2
};

/* ONNXTensorElementDataType values are the ONNX TensorProto.DataType numbers
   (FLOAT = 1 ... UINT64 = 13); they travel to Python as plain ints. */

/* ---- OrtApiBase (1.0): what ORT hands CreateEpFactories ------------------------------ */
typedef struct OrtApiBase {
  const void* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)(void);
} OrtApiBase;

/* ---- OrtApi slots used: X(slot, return type, name, parameters) ------------------------ */
#define WEBNN_ORT_API_FUNCS(X)                                                                       \
  /* 1.0 */                                                                                          \
  X(0, OrtStatus*, CreateStatus, (int code, const char* msg))                                        \
  X(1, int, GetErrorCode, (const OrtStatus* status))                                                 \
  X(2, const char*, GetErrorMessage, (const OrtStatus* status))                                      \
  X(51, OrtStatus*, GetTensorMutableData, (OrtValue* value, void** out))                             \
  X(55, OrtStatus*, CastTypeInfoToTensorInfo, (const OrtTypeInfo* info,                              \
                                               const OrtTensorTypeAndShapeInfo** out))               \
  X(56, OrtStatus*, GetOnnxTypeFromTypeInfo, (const OrtTypeInfo* info, int* out))                    \
  X(60, OrtStatus*, GetTensorElementType, (const OrtTensorTypeAndShapeInfo* info, int* out))         \
  X(61, OrtStatus*, GetDimensionsCount, (const OrtTensorTypeAndShapeInfo* info, size_t* out))        \
  X(62, OrtStatus*, GetDimensions, (const OrtTensorTypeAndShapeInfo* info, int64_t* dims,            \
                                    size_t count))                                                   \
  X(63, OrtStatus*, GetSymbolicDimensions, (const OrtTensorTypeAndShapeInfo* info,                   \
                                            const char** names, size_t count))                       \
  X(65, OrtStatus*, GetTensorTypeAndShape, (const OrtValue* value, OrtTensorTypeAndShapeInfo** out)) \
  X(88, OrtStatus*, KernelContext_GetInputCount, (const OrtKernelContext* ctx, size_t* out))         \
  X(89, OrtStatus*, KernelContext_GetOutputCount, (const OrtKernelContext* ctx, size_t* out))        \
  X(90, OrtStatus*, KernelContext_GetInput, (const OrtKernelContext* ctx, size_t index,              \
                                             const OrtValue** out))                                  \
  X(91, OrtStatus*, KernelContext_GetOutput, (OrtKernelContext* ctx, size_t index,                   \
                                              const int64_t* dims, size_t count, OrtValue** out))    \
  X(93, void, ReleaseStatus, (OrtStatus* status))                                                    \
  X(96, void, ReleaseValue, (OrtValue* value))                                                       \
  X(99, void, ReleaseTensorTypeAndShapeInfo, (OrtTensorTypeAndShapeInfo* info))                      \
  /* 1.17 */                                                                                         \
  X(272, OrtStatus*, ReadOpAttr, (const OrtOpAttr* attr, int type, void* data, size_t len,           \
                                  size_t* out))                                                      \
  /* 1.21 and 1.22 */                                                                               \
  X(289, OrtStatus*, GetValueInfoName, (const OrtValueInfo* info, const char** name))                \
  X(290, OrtStatus*, GetValueInfoTypeInfo, (const OrtValueInfo* info, const OrtTypeInfo** out))      \
  X(295, void, CreateKeyValuePairs, (OrtKeyValuePairs** out))                                        \
  X(296, void, AddKeyValuePair, (OrtKeyValuePairs* kvps, const char* key, const char* value))        \
  X(297, const char*, GetKeyValue, (const OrtKeyValuePairs* kvps, const char* key))                  \
  X(298, void, GetKeyValuePairs, (const OrtKeyValuePairs* kvps, const char* const** keys,            \
                                  const char* const** values, size_t* count))                        \
  X(300, void, ReleaseKeyValuePairs, (OrtKeyValuePairs* kvps))                                       \
  X(307, int, HardwareDevice_Type, (const OrtHardwareDevice* device))                                \
  X(308, uint32_t, HardwareDevice_VendorId, (const OrtHardwareDevice* device))                       \
  X(309, const char*, HardwareDevice_Vendor, (const OrtHardwareDevice* device))                      \
  X(310, uint32_t, HardwareDevice_DeviceId, (const OrtHardwareDevice* device))                       \
  X(317, const void*, GetEpApi, (void))                                                              \
  /* 1.23 */                                                                                         \
  X(326, OrtStatus*, ValueInfo_GetInitializerValue, (const OrtValueInfo* info, const OrtValue** out)) \
  X(331, OrtStatus*, ValueInfo_IsConstantInitializer, (const OrtValueInfo* info, bool* out))         \
  X(332, OrtStatus*, ValueInfo_IsFromOuterScope, (const OrtValueInfo* info, bool* out))              \
  X(333, OrtStatus*, Graph_GetName, (const OrtGraph* graph, const char** out))                       \
  X(335, OrtStatus*, Graph_GetOnnxIRVersion, (const OrtGraph* graph, int64_t* out))                  \
  X(336, OrtStatus*, Graph_GetNumOperatorSets, (const OrtGraph* graph, size_t* out))                 \
  X(337, OrtStatus*, Graph_GetOperatorSets, (const OrtGraph* graph, const char** domains,            \
                                             int64_t* versions, size_t count))                       \
  X(338, OrtStatus*, Graph_GetNumInputs, (const OrtGraph* graph, size_t* out))                       \
  X(339, OrtStatus*, Graph_GetInputs, (const OrtGraph* graph, const OrtValueInfo** out, size_t n))   \
  X(340, OrtStatus*, Graph_GetNumOutputs, (const OrtGraph* graph, size_t* out))                      \
  X(341, OrtStatus*, Graph_GetOutputs, (const OrtGraph* graph, const OrtValueInfo** out, size_t n))  \
  X(342, OrtStatus*, Graph_GetNumInitializers, (const OrtGraph* graph, size_t* out))                 \
  X(343, OrtStatus*, Graph_GetInitializers, (const OrtGraph* graph, const OrtValueInfo** out,        \
                                             size_t n))                                              \
  X(344, OrtStatus*, Graph_GetNumNodes, (const OrtGraph* graph, size_t* out))                        \
  X(345, OrtStatus*, Graph_GetNodes, (const OrtGraph* graph, const OrtNode** out, size_t n))         \
  X(346, OrtStatus*, Graph_GetParentNode, (const OrtGraph* graph, const OrtNode** out))              \
  X(348, OrtStatus*, Node_GetId, (const OrtNode* node, size_t* out))                                 \
  X(349, OrtStatus*, Node_GetName, (const OrtNode* node, const char** out))                          \
  X(350, OrtStatus*, Node_GetOperatorType, (const OrtNode* node, const char** out))                  \
  X(351, OrtStatus*, Node_GetDomain, (const OrtNode* node, const char** out))                        \
  X(352, OrtStatus*, Node_GetSinceVersion, (const OrtNode* node, int* out))                          \
  X(353, OrtStatus*, Node_GetNumInputs, (const OrtNode* node, size_t* out))                          \
  X(354, OrtStatus*, Node_GetInputs, (const OrtNode* node, const OrtValueInfo** out, size_t n))      \
  X(355, OrtStatus*, Node_GetNumOutputs, (const OrtNode* node, size_t* out))                         \
  X(356, OrtStatus*, Node_GetOutputs, (const OrtNode* node, const OrtValueInfo** out, size_t n))     \
  X(357, OrtStatus*, Node_GetNumImplicitInputs, (const OrtNode* node, size_t* out))                  \
  X(358, OrtStatus*, Node_GetImplicitInputs, (const OrtNode* node, const OrtValueInfo** out, size_t n)) \
  X(359, OrtStatus*, Node_GetNumAttributes, (const OrtNode* node, size_t* out))                      \
  X(360, OrtStatus*, Node_GetAttributes, (const OrtNode* node, const OrtOpAttr** out, size_t n))     \
  X(362, OrtStatus*, OpAttr_GetTensorAttributeAsOrtValue, (const OrtOpAttr* attr, OrtValue** out))   \
  X(363, OrtStatus*, OpAttr_GetType, (const OrtOpAttr* attr, int* out))                              \
  X(364, OrtStatus*, OpAttr_GetName, (const OrtOpAttr* attr, const char** out))                      \
  X(365, OrtStatus*, Node_GetNumSubgraphs, (const OrtNode* node, size_t* out))                       \
  X(378, OrtStatus*, GetTensorData, (const OrtValue* value, const void** out))                       \
  X(379, OrtStatus*, GetSessionOptionsConfigEntries, (const OrtSessionOptions* options,              \
                                                      OrtKeyValuePairs** out))

/* ---- OrtEpApi slots used (table from OrtApi::GetEpApi, 1.22+) ------------------------- */
#define WEBNN_ORT_EP_API_FUNCS(X)                                                                    \
  /* 1.22 */                                                                                         \
  X(0, OrtStatus*, CreateEpDevice, (void* factory, const OrtHardwareDevice* device,                  \
                                    const OrtKeyValuePairs* ep_metadata,                             \
                                    const OrtKeyValuePairs* ep_options, OrtEpDevice** out))          \
  /* 1.23 */                                                                                         \
  X(2, OrtStatus*, EpGraphSupportInfo_AddNodesToFuse, (OrtEpGraphSupportInfo* info,                  \
                                                       const OrtNode* const* nodes, size_t n,        \
                                                       const void* fusion_options))                  \
  X(4, const char*, NodeComputeContext_NodeName, (const OrtNodeComputeContext* ctx))

/* ---- structs the plugin fills in (layouts as of version 23) ---------------------------- */
typedef struct OrtNodeFusionOptions {  /* 1.23 */
  uint32_t ort_version_supported;
  bool drop_constant_initializers;
} OrtNodeFusionOptions;

typedef struct OrtNodeComputeInfo OrtNodeComputeInfo;
struct OrtNodeComputeInfo {  /* 1.23 */
  uint32_t ort_version_supported;
  OrtStatus* (*CreateState)(OrtNodeComputeInfo* self, OrtNodeComputeContext* ctx, void** state);
  OrtStatus* (*Compute)(OrtNodeComputeInfo* self, void* state, OrtKernelContext* kernel_context);
  void (*ReleaseState)(OrtNodeComputeInfo* self, void* state);
};

typedef struct OrtEp OrtEp;
struct OrtEp {
  uint32_t ort_version_supported;
  /* 1.22 */
  const char* (*GetName)(const OrtEp* self);
  /* 1.23 */
  OrtStatus* (*GetCapability)(OrtEp* self, const OrtGraph* graph, OrtEpGraphSupportInfo* info);
  OrtStatus* (*Compile)(OrtEp* self, const OrtGraph** graphs, const OrtNode** fused_nodes, size_t count,
                        OrtNodeComputeInfo** compute_infos, OrtNode** ep_context_nodes);
  void (*ReleaseNodeComputeInfos)(OrtEp* self, OrtNodeComputeInfo** infos, size_t count);
  OrtStatus* (*GetPreferredDataLayout)(OrtEp* self, int* layout);
  OrtStatus* (*ShouldConvertDataLayoutForOp)(OrtEp* self, const char* domain, const char* op_type,
                                             int target_layout, int* should_convert);
  OrtStatus* (*SetDynamicOptions)(OrtEp* self, const char* const* keys, const char* const* values, size_t n);
  OrtStatus* (*OnRunStart)(OrtEp* self, const OrtRunOptions* options);
  OrtStatus* (*OnRunEnd)(OrtEp* self, const OrtRunOptions* options, bool sync_stream);
  OrtStatus* (*CreateAllocator)(OrtEp* self, const OrtMemoryInfo* info, OrtAllocator** out);
  OrtStatus* (*CreateSyncStreamForDevice)(OrtEp* self, const OrtMemoryDevice* device, OrtSyncStreamImpl** out);
  const char* (*GetCompiledModelCompatibilityInfo)(OrtEp* self, const OrtGraph* graph);
  /* Members of later versions: never read while we claim version 23; kept zero anyway. */
  void (*later_members[48])(void);
};

typedef struct OrtEpFactory OrtEpFactory;
struct OrtEpFactory {
  uint32_t ort_version_supported;
  /* 1.22 */
  const char* (*GetName)(const OrtEpFactory* self);
  const char* (*GetVendor)(const OrtEpFactory* self);
  OrtStatus* (*GetSupportedDevices)(OrtEpFactory* self, const OrtHardwareDevice* const* devices, size_t num_devices,
                                    OrtEpDevice** ep_devices, size_t max_ep_devices, size_t* num_ep_devices);
  OrtStatus* (*CreateEp)(OrtEpFactory* self, const OrtHardwareDevice* const* devices,
                         const OrtKeyValuePairs* const* ep_metadata, size_t num_devices,
                         const OrtSessionOptions* session_options, const OrtLogger* logger, OrtEp** ep);
  void (*ReleaseEp)(OrtEpFactory* self, OrtEp* ep);
  /* 1.23 */
  uint32_t (*GetVendorId)(const OrtEpFactory* self);
  const char* (*GetVersion)(const OrtEpFactory* self);
  OrtStatus* (*ValidateCompiledModelCompatibilityInfo)(OrtEpFactory* self, const OrtHardwareDevice* const* devices,
                                                       size_t num_devices, const char* info, int* compatibility);
  OrtStatus* (*CreateAllocator)(OrtEpFactory* self, const OrtMemoryInfo* info, const OrtKeyValuePairs* options,
                                OrtAllocator** out);
  void (*ReleaseAllocator)(OrtEpFactory* self, OrtAllocator* allocator);
  OrtStatus* (*CreateDataTransfer)(OrtEpFactory* self, OrtDataTransferImpl** out);
  bool (*IsStreamAware)(const OrtEpFactory* self);
  OrtStatus* (*CreateSyncStreamForDevice)(OrtEpFactory* self, const OrtMemoryDevice* device,
                                          const OrtKeyValuePairs* options, OrtSyncStreamImpl** out);
  /* Members of later versions: never read while we claim version 23; kept zero anyway. */
  void (*later_members[48])(void);
};

#endif /* WEBNN_ORT_ABI_H */
