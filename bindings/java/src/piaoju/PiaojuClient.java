package piaoju;

import com.sun.jna.Function;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A piaoju client over libpiaoju: configuration, connections and token cache. Thread-safe: share
 * one client between threads; close it when the plugin unloads.
 *
 * <p>Every call blocks until the service answers or the configured {@code timeout_ms} (default
 * 15 s) has passed: never call it on a UI thread (Swing's event thread, JavaFX's application
 * thread). Results are the library's JSON text; a failure is a {@link PiaojuException}.
 *
 * <p>Text crosses the boundary as UTF-8 bytes in both directions, whatever {@code file.encoding}
 * and {@code sun.jnu.encoding} are. The library is found as {@code piaoju} on JNA's search path
 * ({@code jna.library.path}, {@code LD_LIBRARY_PATH}, {@code PATH} on Windows) or at the path in
 * the system property {@code piaoju.library}.
 */
public final class PiaojuClient implements AutoCloseable {
    static final Lib LIB = load();

    private Pointer handle;

    /**
     * A client for a configuration JSON (docs/configuration.md); {@code "{}"} is empty, the
     * environment is not read.
     *
     * @throws PiaojuException 101 invalid_config for bad JSON, an unknown key, a wrong type
     */
    public PiaojuClient(String configJson) {
        this(configJson, false);
    }

    /**
     * As {@link #PiaojuClient(String)}; with {@code asciiJson} every JSON the library returns is
     * pure ASCII ({@code \\uXXXX} escapes), for JSON that travels on through a code-page
     * conversion (an ANSI control, a GBK file). This client's own results never need it.
     */
    public PiaojuClient(String configJson, boolean asciiJson) {
        this(utf8z(withoutBom(Objects.requireNonNull(configJson, "configJson")), asciiJson));
    }

    private PiaojuClient(byte[] configJson) {
        PointerByReference client = new PointerByReference();
        PointerByReference error = new PointerByReference();
        int status = LIB.pj_client_new(configJson, client, error);
        String errorJson = take(error.getValue());
        if (status != 0) {
            throw new PiaojuException(status, errorJson);
        }
        handle = client.getValue();
    }

    /** A client configured by the {@code PIAOJU_*} environment variables. */
    public static PiaojuClient fromEnvironment() {
        return new PiaojuClient((byte[]) null);
    }

    /** Recognizes a shopping receipt (Juhe) from the file's bytes (jpg, png or bmp). */
    public String recognizeShoppingReceipt(byte[] image) {
        Objects.requireNonNull(image, "image");
        PointerByReference out = new PointerByReference();
        int status = LIB.pj_recognize_shopping_receipt(handle(), image, new Lib.SizeT(image.length), out);
        return result(status, out);
    }

    /** Recognizes a shopping receipt (Juhe) from an image file (its path is passed as UTF-8). */
    public String recognizeShoppingReceipt(Path path) {
        PointerByReference out = new PointerByReference();
        int status = LIB.pj_recognize_shopping_receipt_file(handle(), utf8z(path.toString(), false), out);
        return result(status, out);
    }

    /** Recognizes a used-car sales invoice (ChinaUMS) from the file's bytes (png, jpg or pdf). */
    public String recognizeUsedCarInvoice(byte[] image) {
        Objects.requireNonNull(image, "image");
        PointerByReference out = new PointerByReference();
        int status = LIB.pj_recognize_used_car_invoice(handle(), image, new Lib.SizeT(image.length), out);
        return result(status, out);
    }

    /** Recognizes a used-car sales invoice (ChinaUMS) from a file (png, jpg or pdf). */
    public String recognizeUsedCarInvoice(Path path) {
        PointerByReference out = new PointerByReference();
        int status = LIB.pj_recognize_used_car_invoice_file(handle(), utf8z(path.toString(), false), out);
        return result(status, out);
    }

    /**
     * One call, JSON in and JSON out ({@code pj_call}): returns the envelope
     * {@code {"ok": true, "result": ...}} or {@code {"ok": false, "error": ...}}; never throws for
     * a failed recognition.
     */
    public static String call(String requestJson) {
        return take(LIB.pj_call(utf8z(withoutBom(Objects.requireNonNull(requestJson, "requestJson")), false)));
    }

    /** The library's version, {@code "MAJOR.MINOR.PATCH"}. */
    public static String version() {
        return read(LIB.pj_version());
    }

    /** The stable name of a status code ({@code "invalid_key"}), {@code "unknown"} for others. */
    public static String statusName(int status) {
        return read(LIB.pj_status_name(status));
    }

    /** Frees the client. Idempotent; calls still running finish normally. */
    @Override
    public void close() {
        Pointer h;
        synchronized (this) {
            h = handle;
            handle = null;
        }
        if (h != null) {
            LIB.pj_client_free(h);
        }
    }

    private synchronized Pointer handle() {
        if (handle == null) {
            throw new IllegalStateException("piaoju: the client is closed");
        }
        return handle;
    }

    private static String result(int status, PointerByReference out) {
        String json = take(out.getValue());
        if (status != 0) {
            throw new PiaojuException(status, json);
        }
        return json;
    }

    /** Reads a string the library returned and frees it with pj_string_free, whatever happens. */
    private static String take(Pointer p) {
        if (p == null) {
            return null;
        }
        try {
            return read(p);
        } finally {
            LIB.pj_string_free(p);
        }
    }

    private static String read(Pointer p) {
        long length = p.indexOf(0, (byte) 0);
        return new String(p.getByteArray(0, (int) length), StandardCharsets.UTF_8);
    }

    /** UTF-8 bytes with the terminating NUL; a NUL inside would cut the text short, so it is refused. */
    static byte[] utf8z(String s, boolean asciiJson) {
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("piaoju: text contains a NUL character");
        }
        byte[] bytes = (asciiJson ? withAsciiJson(s) : s).getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(bytes, bytes.length + 1);
    }

    /** A text read with a UTF-8 decoder keeps a byte-order mark as U+FEFF (Notepad writes one). */
    private static String withoutBom(String json) {
        return json.startsWith("\uFEFF") ? json.substring(1) : json;
    }

    /** Adds "ascii_json": true to a configuration object; anything else is left for the library to refuse. */
    static String withAsciiJson(String config) {
        int open = skipSpace(config, 0);
        if (open >= config.length() || config.charAt(open) != '{') {
            return config;
        }
        int next = skipSpace(config, open + 1);
        boolean empty = next < config.length() && config.charAt(next) == '}';
        return config.substring(0, open + 1) + "\"ascii_json\": true" + (empty ? "" : ", ")
                + config.substring(open + 1);
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
        return i;
    }

    private static Lib load() {
        Map<String, Object> options = new HashMap<>();
        if (Platform.isWindows() && !Platform.is64Bit()) {
            // The 32-bit Windows DLL exports stdcall functions (docs/hosts.md).
            options.put(Library.OPTION_CALLING_CONVENTION, Function.ALT_CONVENTION);
        }
        return Native.load(System.getProperty("piaoju.library", "piaoju"), Lib.class, options);
    }
}
