package dev.karta.server.http;

import io.javalin.http.Context;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** Request counts and latencies by route template, method and status, in Prometheus text. */
public final class HttpMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    void record(Context ctx, float millis) {
        // The matched HTTP endpoint, not ctx.endpoint(): in the request logger that is the last
        // handler that ran (an after-handler).
        var matched = ctx.endpoints().matchedHttpEndpoint();
        String path = matched == null ? null : matched.path;
        String route = path == null || path.isEmpty() || path.equals("*") ? "unmatched" : path;
        String method = ctx.method().name();
        int status = ctx.statusCode();
        // Route templates, methods and statuses are few: each timer is registered once, not looked
        // up through a new meter id on every request.
        timers.computeIfAbsent(method + " " + route + " " + status, key -> Timer.builder("karta.http.requests")
                        .description("HTTP requests by route template, method and status")
                        .tag("method", method)
                        .tag("route", route)
                        .tag("status", Integer.toString(status))
                        .publishPercentileHistogram()
                        .register(registry))
                .record((long) (millis * 1_000_000), TimeUnit.NANOSECONDS);
    }

    void scrape(Context ctx) {
        ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(registry.scrape());
    }
}
