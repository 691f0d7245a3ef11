/* The request state machine of DESIGN.md, in one table:
 *   created -> approved -> in_progress -> signed -> expired
 *   created -> declined
 *   created | approved | in_progress -> failed */
#ifndef CSOD_STATES_H
#define CSOD_STATES_H

/* 1 if a request may go from `from` to `to`. */
int csod_state_allowed(const char *from, const char *to);

/* 1 for a state nothing happens after (declined, failed, expired). */
int csod_state_final(const char *state);

/* 1 for a known state word. */
int csod_state_known(const char *state);

#endif
