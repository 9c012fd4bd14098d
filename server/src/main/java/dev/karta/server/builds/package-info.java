/**
 * Running builds: the persistent build queue ({@link dev.karta.server.builds.BuildQueue}) with its
 * leases and per-org limits, the workers that claim a queued deploy, fetch its source
 * ({@link dev.karta.server.builds.Sources}), run the build pipeline and create and activate the
 * release. The deploy records themselves belong to {@code deploys}.
 */
package dev.karta.server.builds;
