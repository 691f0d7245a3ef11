/* Several csodd nodes on one spool and one database (docs/DESIGN.md
 * "Cluster"). Each node has a row in `nodes` with a heartbeat and a lease;
 * what a node works on (a request's signing, a message's sending) carries
 * its name and the same lease, claimed with a conditional UPDATE, so that
 * exactly one node holds it, and a node that dies leaves work that another
 * takes over once the lease has run out. One node alone is the same code
 * with nobody to meet. */
#ifndef CSOD_CLUSTER_H
#define CSOD_CLUSTER_H

#include "daemon.h"

/* Records this node (its row in `nodes`) at the start. */
int csod_cluster_join(csod_daemon *d, csod_error *err);
/* A clean stop: the node's lease ends now, its claims are free at once. */
void csod_cluster_leave(csod_daemon *d);
/* Renews the node's lease and every claim it holds; then takes over what
 * nodes whose lease ran out left (requests to sign, intakes to finish).
 * Returns the milliseconds until it is due again. */
int64_t csod_cluster_tick(csod_daemon *d, int64_t now_ms);

/* Claims request id's signing for this node: 1 claimed (or held already),
 * 0 another live node holds it, -1 a database failure. */
int csod_cluster_claim_request(csod_daemon *d, const char *id);

/* Inside a write transaction: serialises it with every other node's
 * transaction that takes the same lock, for a look-then-insert that must
 * happen once cluster-wide. SQLite's write transaction (BEGIN IMMEDIATE)
 * does that already; on PostgreSQL a transaction-scoped advisory lock. */
int csod_cluster_lock(csod_db *db);

/* 1 when node has no live lease (dead, stopped, or unknown). */
int csod_cluster_node_gone(csod_daemon *d, const char *node);

#endif
