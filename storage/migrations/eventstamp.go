package migrations

// The SQL of migration 20261202010000, "stamp events in one statement".
//
// Stamping ran as a transaction of four statements (take the stampers' lock, stamp, look for
// more, commit): four round trips a pass, every few milliseconds under writes, on the same
// pool as the writes. stamp_events is the same pass in one call. A function is what makes that
// safe: in READ COMMITTED each of its statements sees what committed before it began, so the
// stamping statement, run after the lock is taken, sees the stamps of the stamper that held it
// before (a single statement taking the lock itself would not, and would stamp those events
// again). SQLite stamps nothing (see eventLog), so it has nothing to migrate.

// stampFunction is this version's SQL for dialect: stamp_events on Postgres, nothing on SQLite.
func stampFunction(dialect string) (create, drop []string) {
	if dialect != "postgres" {
		return nil, nil
	}
	return []string{createStampEvents}, []string{`DROP FUNCTION stamp_events(bigint, integer, integer)`}
}

// stamp_events(lock_key, batch_size, max_batches) gives the events of committed transactions
// consecutive seqs after the clock's, in id order, batch_size per statement and at most
// max_batches statements, under the advisory lock lock_key; it returns how many it stamped and
// whether committed unstamped ones remain. Why id order is commit order where an order can be
// observed: storage.stampSQL.
const createStampEvents = "CREATE FUNCTION " + stampEventsV1

// stampEventsV1 is this version's stamp_events, from its name on; 20261202050000's down
// restores it.
const stampEventsV1 = stampEventsSignature + `
DECLARE
	n bigint;
BEGIN
	PERFORM pg_advisory_xact_lock(lock_key);
` + stampBatchesHead + "seq IS NULL" + stampBatchesTail + `	pending := EXISTS (SELECT 1 FROM events WHERE seq IS NULL);
END
$$`

// stampEventsSignature is stamp_events' name, arguments and language, the same in every
// version (a version changing them would drop the function and create another).
const stampEventsSignature = `stamp_events(lock_key bigint, batch_size integer, max_batches integer,
	OUT stamped bigint, OUT pending boolean) LANGUAGE plpgsql AS $$`

// stampBatchesHead, a condition that selects unstamped events, and stampBatchesTail are
// stamp_events' loop: each statement stamps the batch_size oldest events the condition
// selects and advances the clock, until a batch is short or max_batches have run.
const (
	stampBatchesHead = `	stamped := 0;
	FOR i IN 1..max_batches LOOP
		WITH batch AS (
			SELECT id, row_number() OVER (ORDER BY id) AS k
			FROM (SELECT id FROM events WHERE `
	stampBatchesTail = ` ORDER BY id LIMIT batch_size) AS oldest
		), done AS (
			UPDATE events SET seq = event_clock.seq + batch.k FROM batch, event_clock WHERE events.id = batch.id RETURNING 1
		)
		UPDATE event_clock SET seq = seq + (SELECT count(*) FROM done)
		WHERE EXISTS (SELECT 1 FROM done)
		RETURNING (SELECT count(*) FROM done) INTO n;
		stamped := stamped + coalesce(n, 0);
		EXIT WHEN coalesce(n, 0) < batch_size;
	END LOOP;
`
)
