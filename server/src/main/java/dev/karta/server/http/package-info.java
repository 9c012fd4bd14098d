/**
 * The HTTP edge: server bootstrap, the route table with the scope each route needs, key
 * authentication, request ids, metrics, and the one place where errors become
 * {@code {"error","message"}} answers. No feature logic lives here.
 */
package dev.karta.server.http;
