package migrations

// The SQL of migration 20261202050000, "bound the stamper's scan".
//
// stamp_events found its work through the partial index events_unstamped, from its start.
// Stamping an event writes a new version of its row; the old version's entry stays in that
// index until a vacuum, so each pass walked every event stamped since the last one (after
// 200,000 writes, 750 pages and 3 ms a pass, twice a pass, at up to 200 passes a second): the
// stamper cost more than the writes' own triggers. The stamper now keeps a bound,
// stamped_below, under which every event is stamped or will never commit, and scans from it.
//
// The bound can pass an id only once the transaction that took it has ended, and the stamper
// cannot see an uncommitted event, so it probes: at one pass it notes the last id taken
// (probe_id) and a transaction id of its own taken after that (probe_xid). An event is
// inserted by a trigger, after its transaction's first write, so a transaction that took an
// id up to probe_id had its transaction id before probe_xid. At a later pass, once every
// transaction up to probe_xid has ended (the snapshot's xmin is past it) and every committed
// event is stamped, every id up to probe_id is stamped or never will be. It assumes the
// sequence hands out ids one at a time (CACHE 1, as BIGSERIAL makes it).

// stampBound is this version's SQL for dialect: nothing on SQLite, which stamps nothing.
func stampBound(dialect string) (up, down []string) {
	if dialect != "postgres" {
		return nil, nil
	}
	return []string{
			`ALTER TABLE event_clock ADD COLUMN stamped_below BIGINT NOT NULL DEFAULT 1,
	ADD COLUMN probe_id BIGINT, ADD COLUMN probe_xid xid8`,
			replaceStampEvents,
		}, []string{
			"CREATE OR REPLACE FUNCTION " + stampEventsV1,
			`ALTER TABLE event_clock DROP COLUMN stamped_below, DROP COLUMN probe_id, DROP COLUMN probe_xid`,
		}
}

// The same function as 20261202010000's, scanning from the bound, which it then advances.
// horizon and last_id are read before the pass writes anything, so before it has a
// transaction id of its own. Once the probe is resolved (or there is none yet), the bound
// moves past it (greatest ignores the NULL of a first probe) and a new probe starts; while it
// is not, the pass leaves event_clock's bound alone.
const replaceStampEvents = "CREATE OR REPLACE FUNCTION " + stampEventsSignature + `
DECLARE
	n bigint;
	horizon xid8;
	last_id bigint;
	clock event_clock;
BEGIN
	PERFORM pg_advisory_xact_lock(lock_key);
	horizon := pg_snapshot_xmin(pg_current_snapshot());
	SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO last_id FROM events_id_seq;
	SELECT * INTO clock FROM event_clock;
` + stampBatchesHead + "seq IS NULL AND id >= clock.stamped_below" + stampBatchesTail + `	pending := EXISTS (SELECT 1 FROM events WHERE seq IS NULL AND id >= clock.stamped_below);
	IF clock.probe_xid IS NULL OR (horizon > clock.probe_xid AND NOT pending) THEN
		UPDATE event_clock SET stamped_below = greatest(stamped_below, clock.probe_id + 1),
			probe_id = last_id, probe_xid = pg_current_xact_id();
	END IF;
END
$$`
