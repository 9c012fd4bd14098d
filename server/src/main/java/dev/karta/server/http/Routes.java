package dev.karta.server.http;

import io.javalin.config.JavalinConfig;

/**
 * A feature's own routes. Each feature registers its paths, with the {@link Scope} each needs, on
 * the server's config; {@link HttpApi} adds request ids, auth and error rendering around them and
 * knows no feature.
 */
@FunctionalInterface
public interface Routes {
    void register(JavalinConfig config);
}
