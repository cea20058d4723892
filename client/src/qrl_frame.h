/* qrl_frame.h — one frame from the broker, parsed and its common fields
 * pulled out (type, id, the event fields, an error's code). Pure: no client
 * state, so the fuzzer drives it directly. */
#ifndef QRL_FRAME_H
#define QRL_FRAME_H

#include <stdint.h>

#include "qrl_json.h"
#include "qrlogin.h"

struct qrl_frame {
    struct qj doc;
    char type[32];
    int has_id;
    int64_t id; /* our ids are integers; a string id is not ours */
    char ticket[QRL_ID_MAX];
    char url[1024];
    char code[8];
    int rotated;
    int64_t expires_in, refresh_expires_in, retry_after, server_time, heartbeat;
    char user_id[QRL_ID_MAX];
    char user_name[QRL_NAME_MAX];
    char session_id[QRL_ID_MAX];
    char reason[32];
    char err_code[32];
    char err_message[200];
};

/* 0 when js is a JSON object with a string "type"; the fields that are
 * absent, of the wrong type or too long stay empty / 0. On 0 call
 * qrl_frame_free(). */
int qrl_frame_parse(struct qrl_frame *f, const char *js, size_t len);
void qrl_frame_free(struct qrl_frame *f);

/* The event a push (or a reply that is also news, like `ticket`) means, with
 * pointers into f; 0 when the frame is not an event. */
int qrl_frame_event(const struct qrl_frame *f, const char *js, size_t len, struct qrl_event *ev);

#endif
