/**
 * The Karta server: {@link dev.karta.server.Main} reads the command line into a
 * {@link dev.karta.server.Config}, and {@link dev.karta.server.KartaServer} builds every object
 * with {@code new}, starts HTTP and the build workers, and stops them in order.
 */
package dev.karta.server;
