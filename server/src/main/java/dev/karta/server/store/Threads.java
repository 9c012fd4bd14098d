package dev.karta.server.store;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** Thread factories for the server's background executors. */
public final class Threads {
    private Threads() {
    }

    /**
     * Daemon threads named {@code name-1}, {@code name-2}, …: background work that must never keep
     * the JVM alive after the server closed.
     */
    public static ThreadFactory daemon(String name) {
        AtomicInteger count = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
