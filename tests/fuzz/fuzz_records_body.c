/* data[] rows of a records request, checked for the module named by the first byte, in each
 * mode, then derived (Deals' probability) and compared against themselves. */
#include <jansson.h>

#include "api/records_logic.h"
#include "fuzz.h"
#include "meta/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    meta_init();
    if (size < 1)
        return 0;
    const struct meta_module *m = meta_module_at(data[0] % meta_module_count());
    json_t *root = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    json_t *rows = json_object_get(root, "data");
    for (size_t i = 0; i < json_array_size(rows) && i < 100; i++) {
        for (int mode = RECORDS_INSERT; mode <= RECORDS_UPSERT; mode++) {
            struct records_input in = {0};
            json_t *err =
                records_check(m, json_array_get(rows, i), i, (enum records_mode)mode, &in);
            if (!err && in.values) {
                records_derive(m, in.values);
                json_t *changed = records_changed(in.values, in.values);
                json_decref(changed);
            }
            json_decref(err);
            records_input_fini(&in);
        }
    }
    json_decref(root);
    return 0;
}
