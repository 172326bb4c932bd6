/* The C SDK's plumbing: weir's packed batch layout over the `wit-bindgen c`
 * bindings of one world (WEIR_WORLD_TRANSFORM or WEIR_WORLD_VALIDATE). */
#include "weir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(WEIR_WORLD_TRANSFORM)
#include "transform.h"
typedef transform_string_t wit_string_t;
typedef exports_weir_plugin_transformer_config_t wit_config_t;
typedef exports_weir_plugin_transformer_batch_t wit_batch_t;
typedef exports_weir_plugin_transformer_event_error_t wit_event_error_t;
#define wit_batch_free exports_weir_plugin_transformer_batch_free
#define wit_config_free exports_weir_plugin_transformer_config_free
#elif defined(WEIR_WORLD_VALIDATE)
#include "validate.h"
typedef validate_string_t wit_string_t;
typedef exports_weir_plugin_validator_config_t wit_config_t;
typedef exports_weir_plugin_validator_batch_t wit_batch_t;
typedef exports_weir_plugin_validator_event_error_t wit_event_error_t;
#define wit_batch_free exports_weir_plugin_validator_batch_free
#define wit_config_free exports_weir_plugin_validator_config_free
#else
#error "build with -DWEIR_WORLD_TRANSFORM or -DWEIR_WORLD_VALIDATE"
#endif

static void *xrealloc(void *ptr, size_t size) {
  void *p = realloc(ptr, size ? size : 1);
  if (p == NULL) WEIR_PANIC("out of memory allocating %zu bytes", size);
  return p;
}

static char *vformat(const char *format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(NULL, 0, format, copy);
  va_end(copy);
  if (n < 0) n = 0;
  char *text = xrealloc(NULL, (size_t)n + 1);
  vsnprintf(text, (size_t)n + 1, format, args);
  return text;
}

_Noreturn void weir_panic_at(const char *file, int line, const char *format, ...) {
  const char *base = strrchr(file, '/');
  fprintf(stderr, "plugin panicked at %s:%d: ", base ? base + 1 : file, line);
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
  fflush(stderr);
  __builtin_trap();
}

void weir_error_set(weir_error *err, const char *format, ...) {
  va_list args;
  va_start(args, format);
  free(err->message);
  err->message = vformat(format, args);
  va_end(args);
}

void weir_log(weir_level level, const char *format, ...) {
  va_list args;
  va_start(args, format);
  char *text = vformat(format, args);
  va_end(args);
  wit_string_t message = {(uint8_t *)text, strlen(text)};
  weir_plugin_host_log((weir_plugin_host_level_t)level, &message);
  free(text);
}

/* ---- config ---- */

struct weir_config {
  size_t len;
  char **entries; /* key, value, key, value, ... */
};

static weir_config the_config;

size_t weir_config_len(const weir_config *config) { return config->len; }

void weir_config_at(const weir_config *config, size_t i, const char **key, const char **value) {
  *key = config->entries[2 * i];
  *value = config->entries[2 * i + 1];
}

const char *weir_config_get(const weir_config *config, const char *name, const char *fallback) {
  for (size_t i = 0; i < config->len; i++)
    if (strcmp(config->entries[2 * i], name) == 0) return config->entries[2 * i + 1];
  return fallback;
}

const char *weir_config_require(const weir_config *config, const char *name, weir_error *err) {
  const char *value = weir_config_get(config, name, NULL);
  if (value == NULL) weir_error_set(err, "missing config key `%s`", name);
  return value;
}

static char *copy_string(const wit_string_t *s) {
  char *text = xrealloc(NULL, s->len + 1);
  memcpy(text, s->ptr, s->len);
  text[s->len] = 0;
  return text;
}

/* Keeps a copy of config for the plugin's lifetime and runs init. */
static bool run_init(wit_config_t *config, wit_string_t *ret_err,
                     bool (*init)(const weir_config *, weir_error *)) {
  the_config.len = config->len;
  the_config.entries = xrealloc(NULL, 2 * config->len * sizeof(char *));
  for (size_t i = 0; i < config->len; i++) {
    the_config.entries[2 * i] = copy_string(&config->ptr[i].f0);
    the_config.entries[2 * i + 1] = copy_string(&config->ptr[i].f1);
  }
  wit_config_free(config);
  weir_error err = {NULL};
  if (init(&the_config, &err)) {
    free(err.message);
    return true;
  }
  if (err.message == NULL) err.message = copy_string(&(wit_string_t){(uint8_t *)"init failed", 11});
  ret_err->ptr = (uint8_t *)err.message;
  ret_err->len = strlen(err.message);
  return false;
}

/* ---- events ---- */

static uint32_t read_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const uint8_t *take(const uint8_t **at, const uint8_t *end, size_t n) {
  if ((size_t)(end - *at) < n) WEIR_PANIC("malformed frame from weir");
  const uint8_t *p = *at;
  *at += n;
  return p;
}

static weir_event decode(const uint8_t *frame, size_t len) {
  const uint8_t *at = frame, *end = frame + len;
  weir_event e = {0};
  const uint8_t *t = take(&at, end, 8);
  e.time = (int64_t)((uint64_t)read_u32(t) | (uint64_t)read_u32(t + 4) << 32);
  uint32_t key_len = read_u32(take(&at, end, 4));
  if (key_len != 0xffffffffu) {
    e.has_key = true;
    e.key.len = key_len;
    e.key.ptr = take(&at, end, key_len);
  }
  e.header_count = read_u32(take(&at, end, 4));
  e.headers = at;
  for (uint32_t i = 0; i < e.header_count; i++) {
    take(&at, end, read_u32(take(&at, end, 4)));
    take(&at, end, read_u32(take(&at, end, 4)));
  }
  e.value.ptr = at;
  e.value.len = (size_t)(end - at);
  return e;
}

void weir_event_header_at(const weir_event *event, uint32_t i, weir_bytes *name, weir_bytes *value) {
  if (i >= event->header_count) WEIR_PANIC("header %u of %u", i, event->header_count);
  const uint8_t *at = event->headers;
  for (;;) {
    name->len = read_u32(at);
    name->ptr = at + 4;
    at += 4 + name->len;
    value->len = read_u32(at);
    value->ptr = at + 4;
    at += 4 + value->len;
    if (i-- == 0) return;
  }
}

bool weir_event_header(const weir_event *event, const char *name, weir_bytes *value) {
  size_t len = strlen(name);
  for (uint32_t i = 0; i < event->header_count; i++) {
    weir_bytes n;
    weir_event_header_at(event, i, &n, value);
    if (n.len == len && memcmp(n.ptr, name, len) == 0) return true;
  }
  return false;
}

/* ---- output ---- */

typedef struct {
  uint8_t *frames;
  size_t frames_len, frames_cap;
  uint32_t *ends, *origins;
  size_t count, cap;
  wit_event_error_t *errors;
  size_t errors_len, errors_cap;
} output;

struct weir_emitter {
  output *out;
  const weir_event *in;
  uint32_t index;
  bool transform;
  char *rejection;
  size_t frames_mark, count_mark;
};

static void append(output *o, const void *bytes, size_t n) {
  if (o->frames_len + n > o->frames_cap) {
    o->frames_cap = (o->frames_len + n) * 2;
    o->frames = xrealloc(o->frames, o->frames_cap);
  }
  memcpy(o->frames + o->frames_len, bytes, n);
  o->frames_len += n;
}

static void append_u32(output *o, uint32_t v) {
  uint8_t b[4] = {v, v >> 8, v >> 16, v >> 24};
  append(o, b, 4);
}

static void end_event(weir_emitter *e) {
  output *o = e->out;
  if (!e->transform) WEIR_PANIC("a validator cannot keep or emit events");
  if (o->count == o->cap) {
    o->cap = o->cap ? 2 * o->cap : 64;
    o->ends = xrealloc(o->ends, o->cap * sizeof(uint32_t));
    o->origins = xrealloc(o->origins, o->cap * sizeof(uint32_t));
  }
  o->ends[o->count] = (uint32_t)o->frames_len;
  o->origins[o->count] = e->index;
  o->count++;
}

void weir_keep(weir_emitter *out) { end_event(out); }

void weir_emit(weir_emitter *out, const weir_event *event) {
  if (!out->transform) WEIR_PANIC("a validator cannot keep or emit events");
  uint64_t t = (uint64_t)event->time;
  append_u32(out->out, (uint32_t)t);
  append_u32(out->out, (uint32_t)(t >> 32));
  if (event->has_key) {
    append_u32(out->out, (uint32_t)event->key.len);
    append(out->out, event->key.ptr, event->key.len);
  } else {
    append_u32(out->out, 0xffffffffu);
  }
  append_u32(out->out, event->header_count);
  for (uint32_t i = 0; i < event->header_count; i++) {
    weir_bytes name, value;
    weir_event_header_at(event, i, &name, &value);
    append_u32(out->out, (uint32_t)name.len);
    append(out->out, name.ptr, name.len);
    append_u32(out->out, (uint32_t)value.len);
    append(out->out, value.ptr, value.len);
  }
  append(out->out, event->value.ptr, event->value.len);
  end_event(out);
}

void weir_emit_value(weir_emitter *out, const void *value, size_t len) {
  weir_event e = *out->in;
  e.value.ptr = value;
  e.value.len = len;
  weir_emit(out, &e);
}

void weir_reject(weir_emitter *out, const char *format, ...) {
  va_list args;
  va_start(args, format);
  free(out->rejection);
  out->rejection = vformat(format, args);
  va_end(args);
}

/* ---- keyed state ---- */

/* The input event weir_transform is running for, and its index in the
 * batch, which keyed state names it by; NULL outside weir_transform. */
static const weir_event *state_event;
static uint32_t state_index;

#if defined(WEIR_WORLD_TRANSFORM)

/* Values weir_state_get returned for the current event, freed when
 * weir_transform returns. */
static uint8_t **state_values;
static size_t state_values_len, state_values_cap;

static void state_release(void) {
  for (size_t i = 0; i < state_values_len; i++) free(state_values[i]);
  state_values_len = 0;
}

static uint32_t state_index_of(const weir_event *event, const char *function) {
  if (state_event == NULL)
    WEIR_PANIC("%s: keyed state is only available in weir_transform", function);
  if (event != state_event)
    WEIR_PANIC("%s: not the event weir_transform received (keyed state takes that pointer)",
               function);
  return state_index;
}

static transform_string_t state_name(const char *name) {
  return (transform_string_t){(uint8_t *)name, strlen(name)};
}

bool weir_state_get(const weir_event *event, const char *name, weir_bytes *value) {
  uint32_t index = state_index_of(event, "weir_state_get");
  transform_string_t n = state_name(name);
  transform_list_u8_t found;
  if (!weir_plugin_state_get(index, &n, &found)) {
    *value = (weir_bytes){NULL, 0};
    return false;
  }
  /* An empty list is not allocated (cabi_realloc answers a size of 0 with
   * the alignment), so there is nothing to free. */
  if (found.len > 0) {
    if (state_values_len == state_values_cap) {
      state_values_cap = state_values_cap ? 2 * state_values_cap : 8;
      state_values = xrealloc(state_values, state_values_cap * sizeof *state_values);
    }
    state_values[state_values_len++] = found.ptr;
  }
  *value = (weir_bytes){found.len > 0 ? found.ptr : NULL, found.len};
  return true;
}

static void state_set(const weir_event *event, const char *name, const void *value, size_t len,
                      uint64_t *ttl_ms, const char *function) {
  uint32_t index = state_index_of(event, function);
  transform_string_t n = state_name(name);
  transform_list_u8_t v = {(uint8_t *)value, len};
  weir_plugin_state_set(index, &n, &v, ttl_ms);
}

void weir_state_set(const weir_event *event, const char *name, const void *value, size_t len) {
  state_set(event, name, value, len, NULL, "weir_state_set");
}

void weir_state_set_ttl(const weir_event *event, const char *name, const void *value, size_t len,
                        uint64_t ttl_ms) {
  state_set(event, name, value, len, &ttl_ms, "weir_state_set_ttl");
}

void weir_state_delete(const weir_event *event, const char *name) {
  uint32_t index = state_index_of(event, "weir_state_delete");
  transform_string_t n = state_name(name);
  weir_plugin_state_delete(index, &n);
}

#else

static void state_release(void) {}

#endif

/* Runs each event of input through fn, collecting outputs and rejections. */
static void run_batch(wit_batch_t *input, output *o, bool transform,
                      void (*fn)(const weir_event *, weir_emitter *)) {
  memset(o, 0, sizeof *o);
  uint32_t start = 0;
  for (size_t i = 0; i < input->ends.len; i++) {
    uint32_t end = input->ends.ptr[i];
    if (end < start || end > input->frames.len) WEIR_PANIC("malformed batch from weir");
    weir_event event = decode(input->frames.ptr + start, end - start);
    weir_emitter e = {o, &event, (uint32_t)i, transform, NULL, o->frames_len, o->count};
    if (transform) {
      state_event = &event;
      state_index = (uint32_t)i;
    }
    fn(&event, &e);
    state_event = NULL;
    state_release();
    if (e.rejection != NULL) {
      o->frames_len = e.frames_mark;
      o->count = e.count_mark;
      if (o->errors_len == o->errors_cap) {
        o->errors_cap = o->errors_cap ? 2 * o->errors_cap : 16;
        o->errors = xrealloc(o->errors, o->errors_cap * sizeof *o->errors);
      }
      wit_event_error_t *err = &o->errors[o->errors_len++];
      err->index = (uint32_t)i;
      err->message.ptr = (uint8_t *)e.rejection;
      err->message.len = strlen(e.rejection);
    }
    start = end;
  }
  /* Every event's bytes were copied into o; the input is ours to free. */
  wit_batch_free(input);
}

/* Empty lists are passed with a NULL pointer: post-return frees them. */
#if defined(WEIR_WORLD_TRANSFORM)

static bool initialised;

bool exports_weir_plugin_transformer_init(exports_weir_plugin_transformer_config_t *config,
                                          transform_string_t *err) {
  initialised = run_init(config, err, weir_transform_init);
  return initialised;
}

void exports_weir_plugin_transformer_transform(exports_weir_plugin_transformer_batch_t *input,
                                               exports_weir_plugin_transformer_transformed_t *ret) {
  if (!initialised) WEIR_PANIC("transform called before a successful init");
  output o;
  run_batch(input, &o, true, weir_transform);
  ret->events.frames.ptr = o.frames;
  ret->events.frames.len = o.frames_len;
  ret->events.ends.ptr = o.ends;
  ret->events.ends.len = o.count;
  ret->origins.ptr = o.origins;
  ret->origins.len = o.count;
  ret->errors.ptr = o.errors;
  ret->errors.len = o.errors_len;
}

#else

static bool initialised;

bool exports_weir_plugin_validator_init(exports_weir_plugin_validator_config_t *config,
                                        validate_string_t *err) {
  initialised = run_init(config, err, weir_validate_init);
  return initialised;
}

void exports_weir_plugin_validator_validate(exports_weir_plugin_validator_batch_t *input,
                                            exports_weir_plugin_validator_list_event_error_t *ret) {
  if (!initialised) WEIR_PANIC("validate called before a successful init");
  output o;
  run_batch(input, &o, false, weir_validate);
  ret->ptr = o.errors;
  ret->len = o.errors_len;
}

#endif
