// Package events follows the change log the storage triggers write and fans it out to
// subscriptions: one Hub per process reads the log once for everybody and puts each event, as
// the subscription's value, on every subscription's channel, with no goroutine per
// subscription; a subscription whose consumer does not keep up stops taking events from the
// hub and has a goroutine read the log for it until it has caught up.
//
// The log is pushed, not polled. The hub reads when storage wakes it: on every commit that
// changed a store or an item (Postgres NOTIFY; on SQLite, every write of this process) and
// after every (re)connection of the listener, which covers whatever committed while it was
// away. The one change that sends no notification is a transaction that aborts while later
// commits wait behind it to be stamped; the hub covers it by retrying StampEvents with a short
// backoff for as long as events are pending, and only then. There is no periodic safety read:
// every way an event becomes readable is one of the above, and a timer would only add load
// and hide a listener that stopped working. (Another process writing the same SQLite file
// wakes nobody here: SQLite is served by one process.)
package events
