/**
 * The outbox of events sent to an org's webhook endpoints: {@link dev.karta.server.events.Events#record}
 * writes an event, and one delivery per subscribed endpoint, inside the transaction of the change
 * it reports, so an event exists exactly when its change committed. Delivering them is the
 * {@code webhooks} package's job.
 */
package dev.karta.server.events;
