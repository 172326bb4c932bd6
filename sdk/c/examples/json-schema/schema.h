/* A JSON Schema validator for a subset of draft 2020-12 and draft-07 (see
 * sdk/c/README.md for the keywords): schema_compile checks a schema and
 * refuses what it does not support, naming the keyword; schema_check lists
 * the problems of one value. Independent of the plugin world, so that it can
 * be built and tried on the build machine too. */
#ifndef SCHEMA_H
#define SCHEMA_H

#include "weir.h"
#include "weir_json.h"

/* At most this many problems are listed in a reason, as plugins/json-schema. */
#define SCHEMA_MAX_REPORTED 10

typedef struct schema_set schema_set;

/* Compiles the schema text; NULL with err set to the config error
 * ("config `schema`: not json: ...", "config `schema`: invalid schema: ...").
 * The set keeps pointers into text, which must outlive it. */
schema_set *schema_compile(const char *text, weir_error *err);
void schema_free(schema_set *set);

/* NULL when value matches; otherwise a malloc'd reason: "<instance
 * location>: <problem>" parts joined by "; " (at most SCHEMA_MAX_REPORTED,
 * then "; and N more"), or "value is not json: ...". */
char *schema_check(const schema_set *set, weir_bytes value);

#endif
