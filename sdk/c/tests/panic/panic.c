/* panic: a test-only plugin that panics on events whose JSON has
 * "mark": true, and keeps the others. */
#include <stdlib.h>
#include <string.h>

#include "weir.h"

bool weir_transform_init(const weir_config *config, weir_error *err) {
  (void)config, (void)err;
  return true;
}

void weir_transform(const weir_event *event, weir_emitter *out) {
  const char *v = (const char *)event->value.ptr;
  size_t n = event->value.len;
  if (memmem(v, n, "\"mark\":true", 11) != NULL) {
    const char *id = memmem(v, n, "\"id\":", 5);
    WEIR_PANIC("poisoned event %ld", id ? strtol(id + 5, NULL, 10) : -1L);
  }
  weir_keep(out);
}
