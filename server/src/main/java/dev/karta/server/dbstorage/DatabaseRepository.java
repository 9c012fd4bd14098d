package dev.karta.server.dbstorage;

import dev.karta.server.dbstorage.GitPackStore.PackRow;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.eclipse.jgit.internal.storage.dfs.DfsObjDatabase;
import org.eclipse.jgit.internal.storage.dfs.DfsOutputStream;
import org.eclipse.jgit.internal.storage.dfs.DfsPackDescription;
import org.eclipse.jgit.internal.storage.dfs.DfsReaderOptions;
import org.eclipse.jgit.internal.storage.dfs.DfsReftable;
import org.eclipse.jgit.internal.storage.dfs.DfsReftableDatabase;
import org.eclipse.jgit.internal.storage.dfs.DfsRepository;
import org.eclipse.jgit.internal.storage.dfs.DfsRepositoryBuilder;
import org.eclipse.jgit.internal.storage.dfs.DfsRepositoryDescription;
import org.eclipse.jgit.internal.storage.dfs.ReadableChannel;
import org.eclipse.jgit.internal.storage.pack.PackExt;
import org.eclipse.jgit.internal.storage.reftable.ReftableConfig;
import org.eclipse.jgit.util.FS;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One git repository kept in the database, on JGit's DFS layer (as JGit's own
 * {@code InMemoryRepository}, with {@link GitPackStore} in place of the memory). An instance
 * reads the pack list when it is first needed and again after each of its own commits, so a
 * repository opened anew sees what every replica committed; immutable pack bytes may come from
 * JGit's block cache. Refs are reftables, each committed as a pack of its own; a ref update commits
 * only if no other ref update's reftable was listed since it read the refs, so two replicas
 * updating one repository never lose an update: the loser's ref update fails
 * ({@code LOCK_FAILURE}) and its ref stays.
 */
final class DatabaseRepository extends DfsRepository {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseRepository.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Map<String, PackExt> EXTENSIONS = new HashMap<>();

    static {
        for (PackExt ext : PackExt.values()) {
            EXTENSIONS.put(ext.getExtension(), ext);
        }
    }

    private final GitPackStore store;
    private final GitPackStore.RepoRow row;
    private final Consumer<DatabaseRepository> packsCommitted;
    private final ObjDatabase objdb;
    private final RefDb refdb;
    /** Packs received by a push into this instance ({@link DfsObjDatabase.PackSource#RECEIVE}). */
    private final List<DfsPackDescription> received = new CopyOnWriteArrayList<>();
    /** Whether this instance committed a pack of objects: then closing it runs {@code packsCommitted}. */
    private volatile boolean objectsCommitted;

    /** Builds nothing itself: it carries the description into {@link DfsRepository}'s constructor. */
    private static final class Builder extends DfsRepositoryBuilder<Builder, DatabaseRepository> {
        @Override
        public DatabaseRepository build() {
            throw new UnsupportedOperationException("open repositories through DatabaseRepoStore");
        }
    }

    /**
     * {@code packsCommitted} runs when an instance that committed an object pack is closed (the
     * store checks whether the repository needs compacting): after the push that stored the pack
     * has ended and released its project's lock, not in the middle of it, where a compaction would
     * take that lock first and make the push wait for it.
     */
    DatabaseRepository(GitPackStore store, GitPackStore.RepoRow row, Consumer<DatabaseRepository> packsCommitted) {
        // A file system too, for what reads it regardless (a fetch into the repository asks for one).
        super(new Builder().setFS(FS.DETECTED)
                .setRepositoryDescription(new DfsRepositoryDescription("karta-git-" + row.id())));
        this.store = store;
        this.row = row;
        this.packsCommitted = packsCommitted;
        this.objdb = new ObjDatabase();
        this.refdb = new RefDb();
    }

    GitPackStore.RepoRow row() {
        return row;
    }

    @Override
    public ObjDatabase getObjectDatabase() {
        return objdb;
    }

    @Override
    public RefDb getRefDatabase() {
        return refdb;
    }

    @Override
    protected void doClose() {
        super.doClose();
        if (objectsCommitted) {
            objectsCommitted = false;
            packsCommitted.accept(this);
        }
    }

    /** The packs pushes into this instance stored, newest last. */
    List<DfsPackDescription> received() {
        return List.copyOf(received);
    }

    @Override
    public String toString() {
        return "DatabaseRepository[" + row.projectId() + "/" + row.name() + " #" + row.id() + "]";
    }

    /** The object database: packs listed in {@code git_packs}, their files in chunks. */
    final class ObjDatabase extends DfsObjDatabase {
        ObjDatabase() {
            super(DatabaseRepository.this, new DfsReaderOptions());
        }

        @Override
        protected List<DfsPackDescription> listPacks() throws IOException {
            List<PackRow> rows;
            try {
                rows = store.listPacks(row.id());
            } catch (RuntimeException e) {
                throw new IOException("cannot list the packs of " + DatabaseRepository.this, e);
            }
            List<DfsPackDescription> packs = new ArrayList<>(rows.size());
            for (PackRow pack : rows) {
                packs.add(describe(pack));
            }
            return packs;
        }

        private DfsPackDescription describe(PackRow pack) {
            DfsPackDescription desc = new DfsPackDescription(getDescription(), pack.name(),
                    PackSource.valueOf(pack.source()));
            for (String name : pack.extensions()) {
                PackExt ext = EXTENSIONS.get(name);
                if (ext != null) {
                    desc.addFileExt(ext);
                    desc.setFileSize(ext, pack.sizes().getOrDefault(name, 0L));
                }
            }
            desc.setObjectCount(pack.objectCount());
            desc.setDeltaCount(pack.deltaCount());
            desc.setIndexVersion(pack.indexVersion());
            desc.setMinUpdateIndex(pack.minUpdateIndex());
            desc.setMaxUpdateIndex(pack.maxUpdateIndex());
            desc.setLastModified(pack.lastModified());
            return desc;
        }

        @Override
        protected DfsPackDescription newPack(PackSource source) {
            byte[] random = new byte[12];
            RANDOM.nextBytes(random);
            return new DfsPackDescription(getDescription(), "pack-" + HexFormat.of().formatHex(random) + "-"
                    + source.name(), source).setLastModified(System.currentTimeMillis());
        }

        @Override
        protected void commitPackImpl(Collection<DfsPackDescription> desc, Collection<DfsPackDescription> replace)
                throws IOException {
            Set<String> expectedReftables = null;
            for (DfsPackDescription pack : desc) {
                if (pack.hasFileExt(PackExt.REFTABLE) && pack.getPackSource() == PackSource.INSERT) {
                    expectedReftables = refdb.reftablesRead();
                }
            }
            List<PackRow> rows = new ArrayList<>();
            for (DfsPackDescription pack : desc) {
                rows.add(row(pack));
            }
            List<String> drop = replace == null ? List.of() : replace.stream().map(DfsPackDescription::getPackName)
                    .toList();
            try {
                store.commit(row.id(), rows, drop, expectedReftables);
            } catch (GitPackStore.ListChanged e) {
                forget(desc);
                throw e;
            } catch (RuntimeException e) {
                forget(desc);
                throw new IOException("cannot commit packs to " + DatabaseRepository.this, e);
            } finally {
                clearCache(); // the next read lists the packs again, with what other replicas committed
            }
            for (DfsPackDescription pack : desc) {
                if (pack.getPackSource() == PackSource.RECEIVE) {
                    received.add(pack);
                }
                if (pack.hasFileExt(PackExt.PACK)) {
                    objectsCommitted = true;
                }
            }
        }

        /** Removes one pack from the list (its files go a grace period later). */
        void drop(DfsPackDescription pack) throws IOException {
            commitPack(List.of(), List.of(pack));
        }

        private PackRow row(DfsPackDescription pack) {
            Set<String> extensions = new HashSet<>();
            Map<String, Long> sizes = new HashMap<>();
            for (PackExt ext : PackExt.values()) {
                if (pack.hasFileExt(ext)) {
                    extensions.add(ext.getExtension());
                    sizes.put(ext.getExtension(), pack.getFileSize(ext));
                }
            }
            long modified = pack.getLastModified() > 0 ? pack.getLastModified() : System.currentTimeMillis();
            return new PackRow(pack.getPackName(), pack.getPackSource().name(), extensions, sizes,
                    pack.getObjectCount(), pack.getDeltaCount(), pack.getIndexVersion(), pack.getMinUpdateIndex(),
                    pack.getMaxUpdateIndex(), modified);
        }

        @Override
        protected void rollbackPack(Collection<DfsPackDescription> desc) {
            forget(desc);
        }

        /** Deletes the files of packs that did not make it into the list; a failure leaves them to the sweep. */
        private void forget(Collection<DfsPackDescription> desc) {
            try {
                store.deleteUncommitted(row.id(), desc.stream().map(DfsPackDescription::getPackName).toList());
            } catch (RuntimeException e) {
                LOG.warn("could not delete the files of uncommitted packs of {} (the sweep will): {}",
                        DatabaseRepository.this, e.toString());
            }
        }

        @Override
        protected ReadableChannel openFile(DfsPackDescription desc, PackExt ext) throws IOException {
            Optional<GitPackStore.FileHead> head;
            try {
                head = store.openFile(row.id(), desc.getPackName(), ext.getExtension());
            } catch (RuntimeException e) {
                throw new IOException("cannot read " + desc.getFileName(ext) + " of " + DatabaseRepository.this, e);
            }
            if (head.isEmpty()) {
                throw new FileNotFoundException(desc.getFileName(ext));
            }
            return new ChunkChannel(desc.getPackName(), ext.getExtension(), head.get().size(), head.get().whole());
        }

        @Override
        protected DfsOutputStream writeFile(DfsPackDescription desc, PackExt ext) throws IOException {
            return new ChunkOutput(desc.getPackName(), ext.getExtension());
        }

        @Override
        public long getApproximateObjectCount() {
            long count = 0;
            for (var pack : getCurrentPacks()) {
                count += pack.getPackDescription().getObjectCount();
            }
            return count;
        }
    }

    /** Refs as reftables; JGit's own reftable logic, with a record of the reftables a ref update read. */
    final class RefDb extends DfsReftableDatabase {
        RefDb() {
            super(DatabaseRepository.this);
        }

        @Override
        public ReftableConfig getReftableConfig() {
            ReftableConfig cfg = new ReftableConfig();
            cfg.setAlignBlocks(false); // blocks are read from chunks, not from a disk
            cfg.setIndexObjects(false);
            cfg.fromConfig(getRepository().getConfig());
            return cfg;
        }

        /** The names of the reftables the refs were last read from (a ref update holds the lock meanwhile). */
        Set<String> reftablesRead() throws IOException {
            getLock().lock();
            try {
                Set<String> names = new HashSet<>();
                for (DfsReftable table : stack().files()) {
                    names.add(table.getPackDescription().getPackName());
                }
                return names;
            } finally {
                getLock().unlock();
            }
        }
    }

    /** Reads a finished file chunk by chunk; each read of JGit's block size is one row. */
    private final class ChunkChannel implements ReadableChannel {
        private final String pack;
        private final String ext;
        private final long size;
        private long position;
        private boolean open = true;
        private int chunkSeq = -1;
        private byte[] chunk;

        /** {@code first}: the file's first chunk when it came with the file's size, else null. */
        ChunkChannel(String pack, String ext, long size, byte[] first) {
            this.pack = pack;
            this.ext = ext;
            this.size = size;
            if (first != null) {
                chunk = first;
                chunkSeq = 0;
            }
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (position >= size) {
                return -1;
            }
            int seq = (int) (position / GitPackStore.CHUNK_BYTES);
            if (seq != chunkSeq) {
                try {
                    chunk = store.readChunk(row.id(), pack, ext, seq);
                } catch (RuntimeException e) {
                    throw new IOException("cannot read " + pack + "." + ext + " of " + DatabaseRepository.this, e);
                }
                if (chunk == null) {
                    throw new FileNotFoundException(pack + "." + ext + " chunk " + seq + " of " + DatabaseRepository.this);
                }
                chunkSeq = seq;
            }
            int offset = (int) (position % GitPackStore.CHUNK_BYTES);
            int n = Math.min(dst.remaining(), chunk.length - offset);
            if (n <= 0) {
                throw new IOException(pack + "." + ext + " of " + DatabaseRepository.this + " is shorter than "
                        + size + " bytes");
            }
            dst.put(chunk, offset, n);
            position += n;
            return n;
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public void position(long newPosition) {
            position = newPosition;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public int blockSize() {
            return GitPackStore.CHUNK_BYTES;
        }

        @Override
        public void setReadAheadBytes(int bytes) {
            // Every read fetches a whole chunk already.
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }

    /**
     * Writes a file as chunks, each stored as soon as it is full; what was written can be read back
     * (JGit re-reads a pack while it indexes it). The file's row is inserted before its first full
     * chunk and its size recorded on close; a file that never fills a chunk is stored whole on close,
     * row and chunk in one round trip.
     */
    private final class ChunkOutput extends DfsOutputStream {
        private final String pack;
        private final String ext;
        private final byte[] buffer = new byte[GitPackStore.CHUNK_BYTES];
        private int filled;
        private int nextSeq;
        private long stored;
        private boolean closed;
        private int readSeq = -1;
        private byte[] readChunk;

        ChunkOutput(String pack, String ext) {
            this.pack = pack;
            this.ext = ext;
        }

        @Override
        public int blockSize() {
            return GitPackStore.CHUNK_BYTES;
        }

        @Override
        public void write(byte[] buf, int off, int len) throws IOException {
            if (closed) {
                throw new IOException(pack + "." + ext + " is already closed");
            }
            while (len > 0) {
                int n = Math.min(len, buffer.length - filled);
                System.arraycopy(buf, off, buffer, filled, n);
                filled += n;
                off += n;
                len -= n;
                if (filled == buffer.length) {
                    storeChunk();
                }
            }
        }

        private void storeChunk() throws IOException {
            byte[] data = Arrays.copyOf(buffer, filled);
            try {
                if (nextSeq == 0) {
                    store.beginFile(row.id(), pack, ext);
                }
                store.writeChunk(row.id(), pack, ext, nextSeq, data);
            } catch (RuntimeException e) {
                throw new IOException("cannot write " + pack + "." + ext + " of " + DatabaseRepository.this, e);
            }
            nextSeq++;
            stored += filled;
            filled = 0;
        }

        @Override
        public int read(long position, ByteBuffer dst) throws IOException {
            if (position >= stored + filled) {
                return -1;
            }
            if (position >= stored) {
                int offset = (int) (position - stored);
                int n = Math.min(dst.remaining(), filled - offset);
                dst.put(buffer, offset, n);
                return n;
            }
            int seq = (int) (position / GitPackStore.CHUNK_BYTES);
            if (seq != readSeq) {
                try {
                    readChunk = store.readChunk(row.id(), pack, ext, seq);
                } catch (RuntimeException e) {
                    throw new IOException("cannot read back " + pack + "." + ext, e);
                }
                if (readChunk == null) {
                    throw new IOException("chunk " + seq + " of " + pack + "." + ext + " is missing");
                }
                readSeq = seq;
            }
            int offset = (int) (position % GitPackStore.CHUNK_BYTES);
            int n = Math.min(dst.remaining(), readChunk.length - offset);
            dst.put(readChunk, offset, n);
            return n;
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            try {
                if (nextSeq == 0) {
                    store.writeWholeFile(row.id(), pack, ext, Arrays.copyOf(buffer, filled));
                    stored = filled;
                    filled = 0;
                    return;
                }
                if (filled > 0) {
                    storeChunk();
                }
                store.finishFile(row.id(), pack, ext, stored);
            } catch (RuntimeException e) {
                throw new IOException("cannot finish " + pack + "." + ext + " of " + DatabaseRepository.this, e);
            }
        }
    }
}
