package dev.karta.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The wire records ({@code dev.karta.api}) to and from {@link JsonText} trees, as the server's JSON
 * mapping writes and reads them: members named in snake_case after the record components, in
 * their order; instants as RFC 3339 strings; unknown members ignored; a missing member is null,
 * and refused for a primitive component (boolean, long …), as null is; a record marked
 * {@code @JsonInclude(NON_NULL)} leaves its null components out.
 */
final class WireRecords {
    /** A record type's members: JSON names, component types, canonical constructor. */
    private record Shape(List<String> names, List<RecordComponent> components, Constructor<?> constructor,
                         boolean omitNulls) {
    }

    private static final ClassValue<Shape> SHAPES = new ClassValue<>() {
        @Override
        protected Shape computeValue(Class<?> type) {
            RecordComponent[] components = type.getRecordComponents();
            List<String> names = new ArrayList<>(components.length);
            Class<?>[] types = new Class<?>[components.length];
            for (int i = 0; i < components.length; i++) {
                names.add(snakeCase(components[i].getName()));
                types[i] = components[i].getType();
            }
            try {
                Constructor<?> constructor = type.getDeclaredConstructor(types);
                JsonInclude include = type.getAnnotation(JsonInclude.class);
                return new Shape(List.copyOf(names), List.of(components), constructor,
                        include != null && include.value() == JsonInclude.Include.NON_NULL);
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException("a record without its canonical constructor: " + type, e);
            }
        }
    };

    private WireRecords() {
    }

    /** The record (or list, map, string …) a JSON text holds; {@link IllegalArgumentException} naming the member when it does not fit. */
    static <T> T read(byte[] json, Class<T> type) {
        return type.cast(fromTree(JsonText.parse(json), type, ""));
    }

    static <T> T read(String json, Class<T> type) {
        return type.cast(fromTree(JsonText.parse(json), type, ""));
    }

    /** {@code value} (records, maps, lists, strings, numbers, booleans, instants) as a JSON tree. */
    static Object toTree(Object value) {
        if (value == null || value instanceof String || value instanceof Boolean || value instanceof Long
                || value instanceof Integer || value instanceof Double || value instanceof BigInteger
                || value instanceof BigDecimal) {
            return value;
        }
        if (value instanceof Instant instant) {
            return instant.toString();
        }
        if (value instanceof Map<?, ?> map) {
            Map<String, Object> tree = new LinkedHashMap<>();
            map.forEach((key, member) -> tree.put(String.valueOf(key), toTree(member)));
            return tree;
        }
        if (value instanceof List<?> list) {
            List<Object> tree = new ArrayList<>(list.size());
            list.forEach(element -> tree.add(toTree(element)));
            return tree;
        }
        if (value instanceof Record record) {
            Shape shape = SHAPES.get(record.getClass());
            Map<String, Object> tree = new LinkedHashMap<>();
            for (int i = 0; i < shape.names().size(); i++) {
                Object member;
                try {
                    member = shape.components().get(i).getAccessor().invoke(record);
                } catch (IllegalAccessException | InvocationTargetException e) {
                    throw new IllegalStateException("cannot read " + shape.names().get(i) + " of " + record, e);
                }
                if (member != null || !shape.omitNulls()) {
                    tree.put(shape.names().get(i), toTree(member));
                }
            }
            return tree;
        }
        throw new IllegalArgumentException("no JSON form for " + value.getClass().getName());
    }

    private static Object fromTree(Object tree, Type type, String where) {
        if (type instanceof ParameterizedType generic) {
            Type raw = generic.getRawType();
            if (raw == List.class) {
                if (tree == null) {
                    return null;
                }
                if (!(tree instanceof List<?> list)) {
                    throw mismatch(where, "an array", tree);
                }
                List<Object> values = new ArrayList<>(list.size());
                for (int i = 0; i < list.size(); i++) {
                    values.add(fromTree(list.get(i), generic.getActualTypeArguments()[0], where + "[" + i + "]"));
                }
                return values;
            }
            if (raw == Map.class && generic.getActualTypeArguments()[0] == String.class) {
                if (tree == null) {
                    return null;
                }
                if (!(tree instanceof Map<?, ?> map)) {
                    throw mismatch(where, "an object", tree);
                }
                Map<String, Object> values = new LinkedHashMap<>();
                map.forEach((key, value) -> values.put((String) key,
                        fromTree(value, generic.getActualTypeArguments()[1], member(where, (String) key))));
                return values;
            }
            throw new IllegalStateException("no JSON mapping for " + type);
        }
        Class<?> target = (Class<?>) type;
        if (target.isPrimitive()) {
            if (tree == null) {
                throw mismatch(where, target.getName(), null);
            }
            return scalar(tree, target, where);
        }
        if (tree == null || target == Object.class) {
            return tree;
        }
        if (target.isRecord()) {
            if (!(tree instanceof Map<?, ?> members)) {
                throw mismatch(where, "an object", tree);
            }
            return record(members, target, where);
        }
        return scalar(tree, target, where);
    }

    private static Object record(Map<?, ?> members, Class<?> type, String where) {
        Shape shape = SHAPES.get(type);
        Object[] arguments = new Object[shape.names().size()];
        for (int i = 0; i < arguments.length; i++) {
            String name = shape.names().get(i);
            arguments[i] = fromTree(members.get(name), shape.components().get(i).getGenericType(), member(where, name));
        }
        try {
            return shape.constructor().newInstance(arguments);
        } catch (InvocationTargetException e) {
            throw new IllegalArgumentException(place(where) + " is not valid: " + e.getCause().getMessage(), e.getCause());
        } catch (InstantiationException | IllegalAccessException e) {
            throw new IllegalStateException("cannot make a " + type.getName(), e);
        }
    }

    private static Object scalar(Object tree, Class<?> target, String where) {
        if (target == String.class) {
            if (tree instanceof Map || tree instanceof List) {
                throw mismatch(where, "a string", tree);
            }
            return tree.toString();
        }
        if (target == Instant.class) {
            if (tree instanceof String text) {
                try {
                    return Instant.parse(text);
                } catch (DateTimeException e) {
                    throw mismatch(where, "an RFC 3339 time", tree);
                }
            }
            throw mismatch(where, "an RFC 3339 time", tree);
        }
        if (target == boolean.class || target == Boolean.class) {
            if (tree instanceof Boolean) {
                return tree;
            }
            throw mismatch(where, "true or false", tree);
        }
        if (target == long.class || target == Long.class) {
            if (tree instanceof Long) {
                return tree;
            }
            throw mismatch(where, "a whole number", tree);
        }
        if (target == int.class || target == Integer.class) {
            if (tree instanceof Long number && number == number.intValue()) {
                return number.intValue();
            }
            throw mismatch(where, "a whole number", tree);
        }
        if (target == double.class || target == Double.class) {
            if (tree instanceof Number number) {
                return number.doubleValue();
            }
            throw mismatch(where, "a number", tree);
        }
        throw new IllegalStateException("no JSON mapping for " + target.getName());
    }

    private static IllegalArgumentException mismatch(String where, String expected, Object found) {
        String kind = found == null ? "null" : found instanceof Map ? "an object" : found instanceof List ? "an array"
                : found instanceof String ? "a string" : found instanceof Boolean ? "a boolean" : "a number";
        return new IllegalArgumentException(place(where) + ": expected " + expected + ", got " + kind);
    }

    private static String member(String where, String name) {
        return where.isEmpty() ? name : where + "." + name;
    }

    private static String place(String where) {
        return where.isEmpty() ? "the JSON" : "'" + where + "'";
    }

    /** {@code commitSha} → {@code commit_sha}: an underscore before each capital that follows a lower-case letter or digit. */
    static String snakeCase(String name) {
        StringBuilder out = new StringBuilder(name.length() + 4);
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0 && !Character.isUpperCase(name.charAt(i - 1))) {
                    out.append('_');
                }
                out.append(Character.toLowerCase(c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
