/* json-schema: rejects events whose value does not match the JSON Schema in
 * the `schema` config key, like plugins/json-schema, for the keywords
 * schema.c supports (sdk/c/README.md lists them; a schema using any other
 * keyword is refused at init, naming it). */
#include <stdlib.h>

#include "schema.h"
#include "weir.h"

static schema_set *the_schema;

bool weir_validate_init(const weir_config *config, weir_error *err) {
  const char *text = weir_config_require(config, "schema", err);
  if (text == NULL) return false;
  schema_free(the_schema);
  the_schema = schema_compile(text, err);
  return the_schema != NULL;
}

void weir_validate(const weir_event *event, weir_emitter *out) {
  char *reason = schema_check(the_schema, event->value);
  if (reason != NULL) weir_reject(out, "%s", reason);
  free(reason);
}
