package piaoju;

/**
 * A failed piaoju call: the status code of the error catalogue (docs/errors.md), its stable
 * name and the library's error JSON ({@code code}, {@code name}, {@code message},
 * {@code provider_code}, {@code retryable}, {@code possibly_billed}, ...).
 */
public final class PiaojuException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;
    private final String name;
    private final String errorJson;

    PiaojuException(int code, String errorJson) {
        this(code, PiaojuClient.statusName(code), errorJson);
    }

    private PiaojuException(int code, String name, String errorJson) {
        super(name + " (" + code + "): " + errorJson);
        this.code = code;
        this.name = name;
        this.errorJson = errorJson;
    }

    /** The status code: 400 for a wrong Juhe key, 301 for a timeout, ... */
    public int getCode() {
        return code;
    }

    /** The stable name of the code: {@code "invalid_key"}, {@code "timeout"}, ... */
    public String getName() {
        return name;
    }

    /** The error as the library's JSON object (never null). */
    public String getErrorJson() {
        return errorJson;
    }
}
