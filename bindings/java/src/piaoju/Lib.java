package piaoju;

import com.sun.jna.IntegerType;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * The C functions of libpiaoju (include/piaoju.h) as JNA maps them. Not API: use
 * {@link PiaojuClient}.
 *
 * <p>Every string goes in as a NUL-terminated UTF-8 {@code byte[]} and every returned string
 * comes back as a {@link Pointer}, never as a Java {@code String}: JNA would encode and decode
 * those with {@code jna.encoding}/{@code file.encoding} (GBK on a Chinese host) and could not free
 * a returned {@code char *} with {@code pj_string_free}.
 */
interface Lib extends Library {
    int pj_client_new(byte[] configJson, PointerByReference outClient, PointerByReference outErrorJson);

    void pj_client_free(Pointer client);

    int pj_recognize_shopping_receipt(Pointer client, byte[] image, SizeT imageLen, PointerByReference outJson);

    int pj_recognize_shopping_receipt_file(Pointer client, byte[] path, PointerByReference outJson);

    int pj_recognize_used_car_invoice(Pointer client, byte[] image, SizeT imageLen, PointerByReference outJson);

    int pj_recognize_used_car_invoice_file(Pointer client, byte[] path, PointerByReference outJson);

    Pointer pj_call(byte[] requestJson);

    void pj_string_free(Pointer s);

    Pointer pj_version();

    Pointer pj_status_name(int status);

    /** C {@code size_t}: 8 bytes on 64-bit platforms, Windows included (a C {@code long} is not). */
    final class SizeT extends IntegerType {
        private static final long serialVersionUID = 1L;

        public SizeT() {
            this(0);
        }

        SizeT(long value) {
            super(Native.SIZE_T_SIZE, value, true);
        }
    }
}
