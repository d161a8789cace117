/* test_config.c - which configurations are accepted (and what they mean) and which variants are
 * refused, by name. */
#include "ckpt_config.h"
#include "fixtures.h"

#include <string.h>

static int parse(const char *config, const char *quant, cv_scheme *s, char *err)
{
    return cv_scheme_parse(s, config, config ? strlen(config) : 0, quant, quant ? strlen(quant) : 0, err);
}

static void accept(const char *label, const char *config, const char *quant, cv_scheme *s)
{
    char err[CV_ERR_LEN] = "";
    CHECK(parse(config, quant, s, err) == 0, "%s: expected acceptance, got: %s", label, err);
    printf("  accepted %-22s %s\n", label, s->description);
}

static void reject(const char *label, const char *config, const char *quant, const char *needle)
{
    char err[CV_ERR_LEN] = "";
    cv_scheme s;
    const int rc = parse(config, quant, &s, err);
    CHECK(rc != 0, "%s: expected a rejection", label);
    CHECK(rc == 0 || strstr(err, needle), "%s: message \"%s\" lacks \"%s\"", label, err, needle);
    if (rc) printf("  rejected %-22s %s\n", label, err);
}

#define Q(x) "{\"quantization_config\":" x "}"

int main(void)
{
    cv_scheme s;
    accept("gptq v1", "{\"torch_dtype\":\"bfloat16\",\"quantization_config\":{\"quant_method\":\"gptq\",\"bits\":4,"
                      "\"group_size\":128,\"desc_act\":true,\"sym\":false}}", NULL, &s);
    CHECK(s.format == CV_FORMAT_GPTQ && s.gptq_version == 1 && s.group_size == 128 && s.desc_act && !s.sym &&
              s.model_dtype == W4A16_DTYPE_BF16,
          "gptq v1 fields");
    accept("gptq v2 (format key)", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":-1,\"format\":\"gptq_v2\","
                                     "\"pack_dtype\":\"int32\",\"dynamic\":null}"), NULL, &s);
    CHECK(s.gptq_version == 2 && s.group_size == -1 && s.sym && s.model_dtype == -1, "gptq v2 fields");
    accept("quantize_config.json", "{\"architectures\":[]}",
           "{\"bits\":4,\"group_size\":64,\"desc_act\":false,\"sym\":true,\"checkpoint_format\":\"gptq_v2\"}", &s);
    CHECK(s.format == CV_FORMAT_GPTQ && s.gptq_version == 2 && s.group_size == 64, "quantize_config.json fields");
    accept("config.json wins", Q("{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,\"version\":\"gemm\"}"),
           "{\"bits\":8}", &s);
    CHECK(s.format == CV_FORMAT_AWQ, "quantization_config of config.json is used first");
    accept("awq quant_config.json", NULL, "{\"zero_point\":true,\"q_group_size\":128,\"w_bit\":4,\"version\":\"GEMM\"}",
           &s);
    CHECK(s.format == CV_FORMAT_AWQ && s.group_size == 128, "AutoAWQ quant_config.json fields");
    accept("ct", "{\"dtype\":\"float16\",\"quantization_config\":{\"quant_method\":\"compressed-tensors\","
                 "\"format\":\"pack-quantized\",\"quantization_status\":\"compressed\",\"sparsity_config\":{\"format\":\"dense\"},"
                 "\"config_groups\":{\"a\":{\"targets\":[\"Linear\"],\"weights\":{\"num_bits\":4,\"type\":\"int\","
                 "\"symmetric\":false,\"strategy\":\"group\",\"group_size\":64,\"actorder\":\"group\"}},"
                 "\"b\":{\"targets\":[\"re:.*down_proj\"],\"weights\":{\"num_bits\":4,\"symmetric\":true,\"strategy\":\"channel\"}}}}}",
           NULL, &s);
    CHECK(s.format == CV_FORMAT_CT && s.n_ct_groups == 2 && s.ct_groups[0].group_size == 64 && !s.ct_groups[0].symmetric &&
              s.ct_groups[0].actorder && s.ct_groups[1].group_size == -1 && s.ct_groups[1].symmetric &&
              s.model_dtype == W4A16_DTYPE_FP16,
          "ct fields");

    reject("no config", NULL, NULL, "no quantization config");
    reject("config without quant", "{\"torch_dtype\":\"float16\"}", NULL, "no quantization config");
    reject("bad json", "{\"quantization_config\":", NULL, "config.json");
    reject("duplicate key", "{\"quantization_config\":{},\"quantization_config\":{}}", NULL, "duplicate");
    reject("gptq 8 bit", Q("{\"quant_method\":\"gptq\",\"bits\":8,\"group_size\":128}"), NULL, "bits=8 is not supported");
    reject("gptq 3 bit", Q("{\"quant_method\":\"gptq\",\"bits\":3,\"group_size\":128}"), NULL, "bits=3 is not supported");
    reject("gptq marlin", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"checkpoint_format\":\"marlin\"}"),
           NULL, "checkpoint_format \"marlin\" is not supported");
    reject("gptq is_marlin_format", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"is_marlin_format\":true}"),
           NULL, "is_marlin_format");
    reject("gptq bitblas", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"format\":\"bitblas\"}"), NULL,
           "\"bitblas\" is not supported");
    reject("gptq pack int16", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"pack_dtype\":\"int16\"}"),
           NULL, "pack_dtype \"int16\"");
    reject("gptq dynamic", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"dynamic\":{\"-:.*\":{}}}"), NULL,
           "dynamic");
    reject("gptq bad group", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":0}"), NULL, "group_size=0");
    reject("gptq bool type", Q("{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128,\"sym\":1}"), NULL,
           "\"sym\" is not true or false");
    reject("awq gemv", Q("{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,\"version\":\"gemv\"}"), NULL,
           "version \"gemv\" is not supported");
    reject("awq gemv_fast", Q("{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,\"version\":\"gemv_fast\"}"), NULL,
           "\"gemv_fast\"");
    reject("awq marlin", Q("{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,\"version\":\"marlin\"}"), NULL,
           "\"marlin\"");
    reject("awq no zero point", Q("{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":128,\"zero_point\":false}"), NULL,
           "zero_point=false");
    reject("ct marlin-24", Q("{\"quant_method\":\"compressed-tensors\",\"format\":\"marlin-24\"}"), NULL,
           "format \"marlin-24\" is not supported");
    reject("ct float", Q("{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\",\"config_groups\":"
                         "{\"g\":{\"weights\":{\"num_bits\":4,\"type\":\"float\"}}}}"), NULL, "type \"float\"");
    reject("ct w4a8", Q("{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\",\"config_groups\":"
                        "{\"g\":{\"weights\":{\"num_bits\":4},\"input_activations\":{\"num_bits\":8}}}}"), NULL,
           "weight-only");
    reject("ct 8 bit", Q("{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\",\"config_groups\":"
                         "{\"g\":{\"weights\":{\"num_bits\":8,\"strategy\":\"channel\"}}}}"), NULL, "bits=8");
    reject("ct tensor strategy", Q("{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\",\"config_groups\":"
                                   "{\"g\":{\"weights\":{\"num_bits\":4,\"strategy\":\"tensor\"}}}}"), NULL,
           "strategy \"tensor\"");
    reject("ct frozen", Q("{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\","
                          "\"quantization_status\":\"frozen\"}"), NULL, "\"frozen\"");
    reject("ct sparse", Q("{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\","
                          "\"sparsity_config\":{\"format\":\"sparse-24-bitmask\"}}"), NULL, "sparsity_config");
    reject("bitsandbytes", Q("{\"quant_method\":\"bitsandbytes\"}"), NULL, "quant_method \"bitsandbytes\"");

    if (fx_failures) {
        fprintf(stderr, "tools_config: %d check(s) failed\n", fx_failures);
        return 1;
    }
    printf("tools_config: all checks passed\n");
    return 0;
}
