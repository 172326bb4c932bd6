/* weir-sdk for C: write a weir plugin as a few plain C functions.
 *
 * A transform defines
 *     bool weir_transform_init(const weir_config *config, weir_error *err);
 *     void weir_transform(const weir_event *event, weir_emitter *out);
 * a validator
 *     bool weir_validate_init(const weir_config *config, weir_error *err);
 *     void weir_validate(const weir_event *event, weir_emitter *out);
 * and the SDK (src/weir.c over `wit-bindgen c` bindings) does the rest: it
 * unpacks weir's packed batches into one weir_event at a time and packs what
 * the plugin emits. An init that returns false (after weir_error_set) stops
 * the pipeline at start with the message. A transform also has keyed state
 * (weir_state_get and the others below). */
#ifndef WEIR_H
#define WEIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A byte string that is not NUL-terminated. */
typedef struct {
  const uint8_t *ptr;
  size_t len;
} weir_bytes;

/* One event; its bytes are valid only during the call that received it. */
typedef struct {
  int64_t time;        /* milliseconds since the Unix epoch */
  bool has_key;
  weir_bytes key;      /* empty when !has_key */
  uint32_t header_count;
  const uint8_t *headers; /* packed; read with weir_event_header_at */
  weir_bytes value;
} weir_event;

/* Header i of event (i < header_count). */
void weir_event_header_at(const weir_event *event, uint32_t i, weir_bytes *name,
                          weir_bytes *value);
/* The value of the first header called name; false when there is none. */
bool weir_event_header(const weir_event *event, const char *name, weir_bytes *value);

/* A stage's configuration: its `config` table, in order. */
typedef struct weir_config weir_config;
size_t weir_config_len(const weir_config *config);
/* Key and value i, NUL-terminated, valid for the plugin's lifetime. */
void weir_config_at(const weir_config *config, size_t i, const char **key, const char **value);
/* The value of name, or fallback. */
const char *weir_config_get(const weir_config *config, const char *name, const char *fallback);

/* An error message under construction (init failures). */
typedef struct {
  char *message; /* malloc'd, NULL when unset */
} weir_error;
void weir_error_set(weir_error *err, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* The value of name; NULL with err = "missing config key `name`" when unset. */
const char *weir_config_require(const weir_config *config, const char *name, weir_error *err);

/* What a plugin does with one input event. Emitting nothing drops it (in a
 * transform); a validator's event passes unless rejected. */
typedef struct weir_emitter weir_emitter;
/* Passes the input event on unchanged, without copying it (transform). */
void weir_keep(weir_emitter *out);
/* Emits an event with the input's key, headers and time and this value. */
void weir_emit_value(weir_emitter *out, const void *value, size_t len);
/* Emits event (copied). */
void weir_emit(weir_emitter *out, const weir_event *event);
/* Refuses the input event: it is dead-lettered with this reason and what it
 * emitted is discarded. The last call wins. */
void weir_reject(weir_emitter *out, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Keyed state (transforms only): small named values weir keeps per key-by
 * key for the stage, so that a plugin remembers what it has seen of a key (a
 * running count, the last value) without keeping anything itself:
 *
 *     weir_bytes seen;
 *     if (!weir_state_get(event, "seen", &seen)) {
 *       weir_state_set(event, "seen", "1", 1);
 *       weir_keep(out);
 *     }
 *
 * Each function takes the event weir_transform received (any other pointer
 * panics) and reaches only that event's key in this stage; names are
 * NUL-terminated UTF-8. Changes count only if the event is not rejected
 * (weir_reject) and the call does not trap; within a batch, events see the
 * changes made before them, also those of an event that was then rejected,
 * so check an event before changing state for it. The pipeline needs a
 * [key_by]. A component imports weir:plugin/state only if the plugin calls
 * one of these functions (the linker drops the import otherwise), and weir
 * opens a state store only for such plugins; in a validator they do not
 * compile (the validate world has no keyed state). */
#if defined(WEIR_WORLD_VALIDATE)
#define WEIR_TRANSFORM_ONLY \
  __attribute__((unavailable("keyed state is only for transforms: the validate world has none")))
#else
#define WEIR_TRANSFORM_ONLY
#endif
/* The value stored under name: true and *value set (valid until
 * weir_transform returns; copy what you keep), or false and *value empty
 * when there is none. */
bool weir_state_get(const weir_event *event, const char *name, weir_bytes *value) WEIR_TRANSFORM_ONLY;
/* Stores len bytes at value under name (copied). */
void weir_state_set(const weir_event *event, const char *name, const void *value, size_t len)
    WEIR_TRANSFORM_ONLY;
/* Stores len bytes at value under name until the pipeline's watermark
 * passes the event's time plus ttl_ms milliseconds (expiry needs an
 * [event_time]). */
void weir_state_set_ttl(const weir_event *event, const char *name, const void *value, size_t len,
                        uint64_t ttl_ms) WEIR_TRANSFORM_ONLY;
/* Deletes the value stored under name (nothing when there is none). */
void weir_state_delete(const weir_event *event, const char *name) WEIR_TRANSFORM_ONLY;

/* Writes a line to weir's log (rate limited per stage). */
typedef enum { WEIR_TRACE, WEIR_DEBUG, WEIR_INFO, WEIR_WARN, WEIR_ERROR } weir_level;
void weir_log(weir_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* A bug: writes "plugin panicked at FILE:LINE: message" to stderr, which
 * weir shows in the dead-letter output, and traps. (A failed assert() traps
 * too, with wasi-libc's "Assertion failed: ..." line.) */
#define WEIR_PANIC(...) weir_panic_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void weir_panic_at(const char *file, int line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Defined by the plugin: the functions of its world. */
bool weir_transform_init(const weir_config *config, weir_error *err);
void weir_transform(const weir_event *event, weir_emitter *out);
bool weir_validate_init(const weir_config *config, weir_error *err);
void weir_validate(const weir_event *event, weir_emitter *out);

#ifdef __cplusplus
}
#endif
#endif
