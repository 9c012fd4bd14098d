package dev.karta.server.ingest.git;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One push per project at a time, from its ref checks through its build to its ref update, so a
 * release and the deploy branch never disagree because two pushes crossed. A JVM lock suffices:
 * a project's repository lives in this server's data directory.
 */
final class PushLocks {
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();

    /** Takes the project's lock, running {@code onWait} first if another push holds it. */
    void lock(String projectId, Runnable onWait) throws InterruptedException {
        ReentrantLock lock = locks.computeIfAbsent(projectId, id -> new ReentrantLock(true));
        if (!lock.tryLock()) {
            onWait.run();
            lock.lockInterruptibly();
        }
    }

    /** Releases the project's lock if this thread holds it; otherwise does nothing. */
    void unlockIfHeld(String projectId) {
        ReentrantLock lock = locks.get(projectId);
        if (lock != null && lock.isHeldByCurrentThread()) {
            lock.unlock();
        }
    }
}
