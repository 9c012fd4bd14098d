package dev.karta.server.http;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which address a request comes from. Behind a load balancer the connection's peer is the
 * balancer, so every client would share one address in the audit log and in the window of failed
 * key checks. The operator names the balancers it trusts ({@code --trusted-proxy}, addresses or
 * CIDR ranges); from a trusted peer, the client is the rightmost {@code X-Forwarded-For} entry
 * that is not itself a trusted proxy. Entries further left are what the client wrote and are
 * never believed, and a header from a peer that is not trusted is ignored.
 */
public final class ClientAddress {
    /** No proxy trusted: the connection's peer is the client. */
    public static final ClientAddress PEER = new ClientAddress(List.of());

    /** An IPv4 or IPv6 literal, so that parsing never resolves a host name. */
    private static final Pattern LITERAL = Pattern.compile("[0-9A-Fa-f:.]{2,45}");
    /** The most {@code X-Forwarded-For} entries read, from the right; a longer chain is cut there. */
    static final int MAX_HOPS = 16;

    private final List<Range> trusted;

    /**
     * {@code proxies}: addresses ({@code 10.0.0.5}, {@code ::1}) or CIDR ranges
     * ({@code 10.0.0.0/8}); anything else is an {@link IllegalArgumentException} naming it.
     */
    public ClientAddress(List<String> proxies) {
        List<Range> ranges = new ArrayList<>();
        for (String proxy : proxies) {
            ranges.add(Range.parse(proxy.trim()));
        }
        this.trusted = List.copyOf(ranges);
    }

    /** The client's address, given the connection's {@code peer} and its X-Forwarded-For header (or null). */
    public String of(String peer, String forwardedFor) {
        if (trusted.isEmpty() || forwardedFor == null || !isTrusted(peer)) {
            return peer;
        }
        String[] hops = forwardedFor.split(",");
        for (int i = hops.length - 1; i >= Math.max(0, hops.length - MAX_HOPS); i--) {
            String hop = hops[i].trim();
            InetAddress address = literal(hop);
            if (address == null) {
                return peer; // a chain the balancer did not write: believe nothing in it
            }
            if (!isTrusted(address)) {
                return address.getHostAddress();
            }
        }
        return peer;
    }

    private boolean isTrusted(String peer) {
        InetAddress address = literal(peer);
        return address != null && isTrusted(address);
    }

    private boolean isTrusted(InetAddress address) {
        for (Range range : trusted) {
            if (range.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /** The address a literal names, or null when it is not one. */
    static InetAddress literal(String text) {
        if (text != null && text.startsWith("[") && text.endsWith("]")) {
            text = text.substring(1, text.length() - 1);
        }
        if (text == null || !LITERAL.matcher(text).matches()) {
            return null;
        }
        try {
            return InetAddress.getByName(text);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    /** An address and a prefix length: the addresses whose first {@code bits} bits are {@code base}'s. */
    private record Range(byte[] base, int bits) {
        static Range parse(String text) {
            int slash = text.indexOf('/');
            InetAddress address = literal(slash < 0 ? text : text.substring(0, slash));
            if (address == null) {
                throw new IllegalArgumentException("--trusted-proxy takes addresses or CIDR ranges (10.0.0.5, "
                        + "10.0.0.0/8, ::1), got '" + text + "'");
            }
            int max = address.getAddress().length * 8;
            int bits = max;
            if (slash >= 0) {
                try {
                    bits = Integer.parseInt(text.substring(slash + 1));
                } catch (NumberFormatException e) {
                    bits = -1;
                }
                if (bits < 0 || bits > max) {
                    throw new IllegalArgumentException("--trusted-proxy: the prefix length of '" + text
                            + "' must be between 0 and " + max);
                }
            }
            return new Range(address.getAddress(), bits);
        }

        boolean contains(InetAddress address) {
            byte[] other = address.getAddress();
            if (other.length != base.length) {
                return false;
            }
            int shift = base.length * 8 - bits;
            return new BigInteger(1, other).shiftRight(shift).equals(new BigInteger(1, base).shiftRight(shift));
        }
    }
}
