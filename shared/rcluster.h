/* SPDX-License-Identifier: ISC */
/*
 * rcluster.h - a Redis Cluster client on hiredis 0.14 (which has none).
 *
 * The slot map comes from CLUSTER SHARDS (Redis 7.0), asked of any node
 * that answers (known nodes first, then the seeds).  A command goes to the
 * master of its slot (or, for reads, to a replica of it, on a connection
 * that sent READONLY); connections are kept per node and reused.  Replies
 * are followed:
 *
 *   MOVED slot host:port   the map is stale: refresh it, retry there
 *   ASK slot host:port     slot being migrated: ASKING + the command, once,
 *                          on that node; the map is not changed
 *   TRYAGAIN, CLUSTERDOWN  back off (doubling, bounded by retry_ms) and retry
 *
 * with at most RCL_REDIRECTS_MAX redirects per command.  The map is also
 * asked again when older than RCL_MAP_MAX_AGE_MS (a replica that was still
 * syncing is then used for reads); a replica answering LOADING, MOVED, or
 * not at all, leaves the read to the master.  With read_max_lag_ms >= 0 a
 * replica is read only while a look at it (INFO replication of it and of
 * its master, at most once per RCL_LOOK_MS, rcl_look_replica()) finds it
 * replicating the slot's master, link up, no further behind than that
 * bound.  A node that cannot
 * be reached makes the client refresh the map and back off, so after a
 * failover (master gone, replica promoted) commands reach the new master
 * once the cluster has elected it, or fail when retry_ms is spent.
 *
 * A command sent to a master whose reply never came (timeout, connection
 * lost) may have run: it is not repeated, the call fails with in_doubt set
 * (the caller decides, e.g. SALE_IN_DOUBT).  A replica read that fails
 * is repeated on the master.
 *
 * The pure parts (slot of a key, CLUSTER SHARDS reply -> map, redirect
 * errors) do no I/O and are unit-tested alone (tests/unit/test_rcluster.c).
 * Errors: functions returning int give 0 (or a count) or -1 with errstr.
 */
#ifndef BOX_RCLUSTER_H
#define BOX_RCLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define RCL_SLOTS		16384
#define RCL_NODES_MAX		64	/* nodes of a map (masters + replicas) */
#define RCL_HOST_MAX		128
#define RCL_REDIRECTS_MAX	5	/* MOVED/ASK followed per command */
#define RCL_BACKOFF_MIN_MS	10	/* first back-off; doubles ... */
#define RCL_BACKOFF_MAX_MS	200	/* ... up to this per wait */
#define RCL_MAP_MAX_AGE_MS	10000	/* the map is asked again after this
					   (replicas that came online) */
#define RCL_LOOK_MS		1000	/* between two looks at a replica */
#define RCL_LOOK_READS		3	/* replica offsets read per look */

/* The slot of a key: CRC16 of its hash tag ("{...}", non-empty) or of the
 * whole key, modulo 16384 (the keys.c CRC16). */
unsigned rcl_slot(const char *key, size_t len);
/* 1 if the command's name (argv[0]; argvlen NULL: strlen) is cmd, in any
 * case (how both clients follow WATCH, MULTI, EXEC, DISCARD, UNWATCH). */
int	rcl_is_cmd(const char **argv, const size_t *argvlen, const char *cmd);

/* ---- the map (pure) ------------------------------------------------- */

struct rcl_addr {
	char	host[RCL_HOST_MAX];
	int	port;
	int	master;		/* role master (else replica) */
	int	online;		/* health "online" */
};

/* Who serves each slot: node indexes into nodes[], -1 for none. */
struct rcl_map {
	struct rcl_addr	nodes[RCL_NODES_MAX];
	unsigned	n;
	short		master[RCL_SLOTS];
	short		replica[RCL_SLOTS];	/* an online replica, or -1 */
};

/* Fills m from a CLUSTER SHARDS reply (RESP2: an array of shards, each a
 * flat array of "slots" [start, end, ...] and "nodes" [node, ...], each
 * node a flat array of "ip"/"endpoint", "port", "role", "health", ...).
 * Each shard's slots go to its online master (or, if none is online, its
 * first master) and its first online replica.  Returns the number of slots
 * covered (0..16384) or -1 with err set (not that shape, a slot out of
 * range, too many nodes). */
int	rcl_parse_shards(const redisReply *r, struct rcl_map *m, char *err,
	    size_t errlen);

/* What an error reply asks of a cluster client. */
enum rcl_redirect {
	RCL_REDIR_NONE,		/* an ordinary error (or none) */
	RCL_REDIR_MOVED,
	RCL_REDIR_ASK,
	RCL_REDIR_TRYAGAIN,
	RCL_REDIR_CLUSTERDOWN,
	RCL_REDIR__MAX
};

/* Classifies the error text err ("MOVED 3999 127.0.0.1:6381"); for MOVED
 * and ASK fills *slot, host (hsize bytes) and *port.  A MOVED/ASK that does
 * not parse (bad slot, no port, host too long) is RCL_REDIR_NONE. */
enum rcl_redirect rcl_parse_redirect(const char *err, int *slot, char *host,
	    size_t hsize, int *port);
const char *rcl_redirect_str(enum rcl_redirect r);

/* What INFO replication says (the fields a replica read needs). */
struct rcl_repl {
	int		master;		/* role:master (else a replica) */
	char		master_host[RCL_HOST_MAX];	/* replica: its master */
	int		master_port;
	int		link_up;	/* master_link_status:up */
	int		syncing;	/* master_sync_in_progress:1 */
	long long	offset;		/* master_repl_offset of a master,
					   slave_repl_offset (applied) of a
					   replica */
};

/* Parses the text of INFO replication into *p.  Returns 0, or -1 if the
 * role or the offset is missing. */
int	rcl_parse_replication(const char *info, struct rcl_repl *p);

/* Why a slot's replica is read or not (its last look). */
enum rcl_rstate {
	RCL_RS_OK,
	RCL_RS_NONE,		/* the slot has no online replica */
	RCL_RS_DOWN,		/* no answer, or a read on it failed */
	RCL_RS_UNLINKED,	/* not replicating the slot's master now */
	RCL_RS_BEHIND,		/* lag over read_max_lag_ms, or not known */
	RCL_RS__MAX
};
/* "ok", "none", "down", "not replicating", "behind". */
const char *rcl_rstate_str(enum rcl_rstate s);

/* A master's replication offset and when it was seen (ms 0: none). */
struct rcl_mark {
	long long	off;
	long long	ms;
};

/*
 * How far behind its master a replica that applied offset applied (read at
 * now_ms) is at most.  cur: the master's offset asked just before the
 * replica; prev: at the look before.  *caught is the newest mark the
 * replica is known to have applied (kept per replica across looks,
 * updated here; forgotten if applied is below it: another history).
 * Returns now_ms - caught->ms, or -1 if the replica was never seen to
 * have applied a mark.  An upper bound, of the looks' resolution: a
 * replica that stops applying is seen further behind at each look.
 */
long long rcl_lag_ms(long long applied, long long now_ms, struct rcl_mark cur,
	    struct rcl_mark prev, struct rcl_mark *caught);

/* ---- the client ----------------------------------------------------- */

enum rcl_route {
	RCL_MASTER,	/* writes, and reads that must see the last write */
	RCL_REPLICA	/* reads: the slot's replica (READONLY), else master */
};

struct rcl_conn {
	redisContext	*ctx;
	int		 readonly;	/* READONLY sent on ctx */
	/* a replica: its last look (rcl_look_replica) */
	long long	 look_ms;	/* mono_ms(), 0: never */
	enum rcl_rstate	 rstate;
	long long	 lag_ms;	/* -1: unknown */
	struct rcl_mark	 caught;	/* newest master offset it applied */
	/* a master: its offset at the last look at one of its replicas */
	struct rcl_mark	 seen;
};

struct rcluster {
	char		 seeds[RCL_HOST_MAX * 8];	/* "h:p,h:p" */
	int		 timeout_ms;	/* connect and per-command timeout */
	int		 retry_ms;	/* back-off budget of one command */
	struct rcl_map	 map;
	struct rcl_conn	 conn[RCL_NODES_MAX];	/* by map node index */
	int		 have_map;
	long long	 map_ms;	/* when it was fetched (monotonic) */
	int		 stale;		/* refresh before the next command */
	int		 last_node;	/* served the last master command, or -1 */
	int		 txn_node;	/* WATCH/MULTI open on its connection,
					   or -1 (rcl_command_argv()) */
	int		 txn_multi;	/* and MULTI sent */
	int		 in_doubt;	/* last command: sent, no reply */
	int		 unstable;	/* last command failed on answers of
					   the nodes, its slot being moved
					   (TRYAGAIN past retry_ms, or more
					   than RCL_REDIRECTS_MAX redirects),
					   not on a node lost */
	int		 read_max_lag_ms;	/* replica reads: bound of the
						   lag, -1: no look */
	/* what happened so far (for metrics and tests) */
	unsigned long	 moved, ask, tryagain, clusterdown, refreshes,
			 connects, conn_errors, replica_reads,
			 replica_fallbacks;	/* replica reads done on the
						   master instead */
	char		 errstr[256];
};

/* Allocates a client for the seed list "host:port[,host:port...]"; connects
 * nothing yet; read_max_lag_ms is RCL_LOOK_MS.  Returns NULL (out of memory, bad list: err set).  Free it
 * with rcl_free(). */
struct rcluster *rcl_new(const char *seeds, int timeout_ms, int retry_ms,
	    char *err, size_t errlen);
void	rcl_free(struct rcluster *c);
/* 1 if an idle connection has something to read: Redis sends nothing
 * unasked outside pub/sub, so the server closed it (restart, kill) or
 * failed; 0 otherwise. */
int	rcl_idle_dead(redisContext *ctx);

/* Fetches the slot map (CLUSTER SHARDS) from the first node that answers:
 * those of the current map, then the seeds.  Connections to nodes still in
 * the map are kept.  Returns 0 or -1 with errstr. */
int	rcl_refresh(struct rcluster *c);

/* Sends one command for slot (rcl_slot() of its keys, which must share
 * it) along route, following redirects.  Returns the reply, the caller's to
 * freeReplyObject() (an error reply other than a redirect is returned as
 * is), or NULL with errstr: in_doubt then says whether a write may have
 * run, unstable whether the nodes answered but the slot is being moved
 * (the other slots of its master are served).  After a reply, last_node
 * is the node that gave it (an ASK target too).
 *
 * A transaction: from a WATCH or MULTI that succeeded on a master until
 * EXEC, DISCARD or UNWATCH, every command goes to that connection as it
 * is, whatever its slot: no map refresh, no redirect followed, no
 * reconnect (each would run the command outside the transaction).  A
 * redirect is given to the caller as an error reply (Redis then aborts
 * the EXEC); a lost connection ends the transaction (NULL). */
redisReply *rcl_command_argv(struct rcluster *c, unsigned slot,
	    enum rcl_route route, int argc, const char **argv,
	    const size_t *argvlen);

/* WAIT nreplicas timeout_ms on the connection that served the last master
 * command (the write to be made durable).  Returns the number of replicas
 * that acknowledged it, or -1 with errstr (no such connection any more:
 * what it wrote is unknown to be replicated). */
int	rcl_wait(struct rcluster *c, int nreplicas, int timeout_ms);
/* WAIT nreplicas timeout_ms (> 0) on ctx, the connection of the writes it
 * is about, its socket waiting timeout_ms longer than its usual base_ms
 * meanwhile.  Returns the replicas that have them, or -1 with why (*dead
 * set on an I/O failure: ctx is unusable, the caller drops it). */
int	rcl_wait_ctx(redisContext *ctx, int nreplicas, int timeout_ms,
	    int base_ms, char *why, size_t whylen, int *dead);

/* The node a read of slot along route goes to now: for RCL_REPLICA its
 * replica while its look allows (else the master: replica_fallbacks), for
 * RCL_MASTER its master; connected (READONLY sent on a replica), *ctx set,
 * *ro 1 for a replica.  Returns the map index, or -1 with errstr. */
int	rcl_read_node(struct rcluster *c, unsigned slot, enum rcl_route route,
	    redisContext **ctx, int *ro);
/* A read on node failed (I/O, an error or redirect reply): its connection
 * is dropped, the map asked again; a replica is not read until its next
 * look. */
void	rcl_read_failed(struct rcluster *c, int node);
/* The state of slot's replica (looked at if the last look is older than
 * RCL_LOOK_MS); *node its map index (-1: none), *lag_ms its lag (-1:
 * unknown). */
enum rcl_rstate rcl_look_replica(struct rcluster *c, unsigned slot,
	    int *node, long long *lag_ms);

/* "host:port" of the master (or replica) serving slot now, into buf;
 * returns 0 or -1 (no map, slot uncovered). */
int	rcl_node_of(const struct rcluster *c, unsigned slot,
	    enum rcl_route route, char *buf, size_t size);

/* Fetches the map if there is none or it is stale, asks it again if it
 * is older than RCL_MAP_MAX_AGE_MS (kept if no node answers then).
 * Returns 0, or -1 with errstr (no map). */
int	rcl_map_ready(struct rcluster *c);
/* The map index of the master serving slot now (the map fetched first if
 * none or stale), or -1 with errstr. */
int	rcl_node(struct rcluster *c, unsigned slot);
/* The connected context of map node i (for a pipeline on one node), or
 * NULL with errstr; after an I/O error on it call rcl_node_failed(). */
redisContext *rcl_node_ctx(struct rcluster *c, int node);
/* Drops node's connection and asks the map again before the next command. */
void	rcl_node_failed(struct rcluster *c, int node);
/* One command on map node i as it is (no redirect followed: for commands
 * about the node itself, INFO, DBSIZE, SCAN).  NULL with errstr on I/O
 * failure; an error reply is returned. */
redisReply *rcl_node_argv(struct rcluster *c, int node, int argc,
	    const char **argv, const size_t *argvlen);

#endif
