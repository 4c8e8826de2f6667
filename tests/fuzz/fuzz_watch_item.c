/* watch[] items as a client sends them: the body is parsed like the HTTP layer parses it, then
 * every item goes through validation for each verb and an old and a new API version. */
#include <jansson.h>

#include "fuzz.h"
#include "meta/meta.h"
#include "watch/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    meta_init();
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *items = json_object_get(root, "watch");
    static const char *const versions[] = {"v2", "v8"};
    for (size_t i = 0; i < json_array_size(items) && i < 50; i++) {
        for (int verb = WATCH_POST; verb <= WATCH_PATCH; verb++) {
            for (size_t v = 0; v < 2; v++) {
                struct watch_parse_ctx ctx = {
                    .verb = (enum watch_verb)verb, .version = versions[v], .now_s = 1795750000};
                struct watch_item it = {0};
                json_t *err = watch_item_parse(json_array_get(items, i), i, &ctx, &it);
                json_decref(err);
                watch_item_fini(&it);
            }
        }
    }
    json_decref(root);
    return 0;
}
