/**
 * The webhook door: a signed GitHub {@code push} delivery to a bound repository's branch deploys
 * its commit through the one ingest pipeline. Deliveries are checked against the binding's secret
 * and recorded once, so a redelivery deploys nothing twice.
 */
package dev.karta.server.ingest.webhooks;
