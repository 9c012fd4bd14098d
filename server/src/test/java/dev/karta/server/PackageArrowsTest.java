package dev.karta.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Arrows point one way: no two packages of the server import each other, directly or through
 * others, and the shared plumbing ({@code http}, {@code store}) imports no feature. Reads the
 * compiled main classes, so every reference counts: imports, fully qualified names, signatures.
 * The root package ({@code KartaServer}, {@code Main}, {@code Config}) wires everything and is left
 * out.
 */
class PackageArrowsTest {

    private static final String ROOT = "dev.karta.server";
    private static final Pattern REFERENCE = Pattern.compile("dev/karta/server/([A-Za-z0-9_/$]+)");

    /**
     * Arrows that still point the wrong way (from a lower package to a higher one), each closing a
     * cycle that is not yet untied. This list only shrinks: an arrow not listed here that closes a
     * cycle fails the build, and a listed arrow that no longer exists must be struck from it.
     */
    private static final Set<String> KNOWN_BACK_ARROWS = Set.of();

    private Map<String, Set<String>> arrows;

    @BeforeEach
    void readClasses() throws IOException, URISyntaxException {
        Path classes = Path.of(KartaServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        arrows = new TreeMap<>();
        try (Stream<Path> files = Files.walk(classes.resolve(ROOT.replace('.', '/')))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                String from = packageOf(classes.relativize(file).toString().replace('\\', '/'));
                if (from == null) {
                    continue;
                }
                Set<String> to = arrows.computeIfAbsent(from, k -> new TreeSet<>());
                try (InputStream in = Files.newInputStream(file)) {
                    for (String text : utf8Constants(in)) {
                        Matcher m = REFERENCE.matcher(text);
                        while (m.find()) {
                            String target = packageOf("dev/karta/server/" + m.group(1));
                            if (target != null && !target.equals(from)) {
                                to.add(target);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void known_back_arrows_still_exist() {
        List<String> gone = new ArrayList<>();
        for (String arrow : KNOWN_BACK_ARROWS) {
            String[] ends = arrow.split(" -> ");
            if (!arrows.getOrDefault(ends[0], Set.of()).contains(ends[1]) || !reaches(ends[1], ends[0])) {
                gone.add(arrow);
            }
        }
        assertThat(gone).as("arrows to strike from the known back arrows (gone, or closing no cycle)").isEmpty();
    }

    @Test
    void no_cycles_between_packages() {
        for (String arrow : KNOWN_BACK_ARROWS) {
            String[] ends = arrow.split(" -> ");
            arrows.getOrDefault(ends[0], new TreeSet<>()).remove(ends[1]);
        }
        List<String> cycles = new ArrayList<>();
        for (Set<String> component : stronglyConnected()) {
            if (component.size() > 1) {
                cycles.add(String.join(" <-> ", component));
            }
        }
        assertThat(cycles).as("package cycles (arrows: %s)", arrows).isEmpty();
    }

    @Test
    void plumbing_imports_no_feature() {
        Map<String, Set<String>> wrong = new TreeMap<>();
        for (String pkg : arrows.keySet()) {
            if (isPlumbing(pkg)) {
                for (String target : arrows.get(pkg)) {
                    if (!isPlumbing(target)) {
                        wrong.computeIfAbsent(pkg, k -> new TreeSet<>()).add(target);
                    }
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    private boolean reaches(String from, String to) {
        Set<String> seen = new TreeSet<>();
        Deque<String> next = new ArrayDeque<>(List.of(from));
        while (!next.isEmpty()) {
            String pkg = next.pop();
            if (pkg.equals(to)) {
                return true;
            }
            if (seen.add(pkg)) {
                next.addAll(arrows.getOrDefault(pkg, Set.of()));
            }
        }
        return false;
    }

    private static boolean isPlumbing(String pkg) {
        return pkg.equals("http") || pkg.startsWith("http.") || pkg.equals("store");
    }

    /** "dev/karta/server/ingest/git/GitHttp$1.class" gives "ingest.git"; the root package gives null. */
    private static String packageOf(String path) {
        String rest = path.substring(path.indexOf("dev/karta/server/") + "dev/karta/server/".length());
        int slash = rest.lastIndexOf('/');
        return slash < 0 ? null : rest.substring(0, slash).replace('/', '.');
    }

    private static List<String> utf8Constants(InputStream raw) throws IOException {
        DataInputStream in = new DataInputStream(raw);
        in.readInt();
        in.readUnsignedShort();
        in.readUnsignedShort();
        int count = in.readUnsignedShort();
        List<String> texts = new ArrayList<>();
        for (int i = 1; i < count; i++) {
            int tag = in.readUnsignedByte();
            switch (tag) {
                case 1 -> texts.add(in.readUTF());
                case 7, 8, 16, 19, 20 -> in.skipBytes(2);
                case 15 -> in.skipBytes(3);
                case 3, 4, 9, 10, 11, 12, 17, 18 -> in.skipBytes(4);
                case 5, 6 -> {
                    in.skipBytes(8);
                    i++;
                }
                default -> throw new IOException("unknown constant pool tag " + tag);
            }
        }
        return texts;
    }

    /** Tarjan's algorithm over the package graph. */
    private List<Set<String>> stronglyConnected() {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<Set<String>> result = new ArrayList<>();
        int[] counter = {0};
        for (String pkg : arrows.keySet()) {
            if (!index.containsKey(pkg)) {
                visit(pkg, index, low, stack, onStack, result, counter);
            }
        }
        return result;
    }

    private void visit(String pkg, Map<String, Integer> index, Map<String, Integer> low,
            Deque<String> stack, Set<String> onStack, List<Set<String>> result, int[] counter) {
        index.put(pkg, counter[0]);
        low.put(pkg, counter[0]);
        counter[0]++;
        stack.push(pkg);
        onStack.add(pkg);
        for (String next : arrows.getOrDefault(pkg, Set.of())) {
            if (!index.containsKey(next)) {
                visit(next, index, low, stack, onStack, result, counter);
                low.put(pkg, Math.min(low.get(pkg), low.get(next)));
            } else if (onStack.contains(next)) {
                low.put(pkg, Math.min(low.get(pkg), index.get(next)));
            }
        }
        if (low.get(pkg).equals(index.get(pkg))) {
            Set<String> component = new TreeSet<>();
            String member;
            do {
                member = stack.pop();
                onStack.remove(member);
                component.add(member);
            } while (!member.equals(pkg));
            result.add(component);
        }
    }
}
