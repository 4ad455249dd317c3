/* Built by scripts/test-dist.sh, linked with the SDK's libpiaoju.a: a cashier's program that has
 * its own libjpeg functions (here stand-ins with libjpeg's names, which libpiaoju.a's copy of
 * libjpeg-turbo also has inside it). The static archive defines only the pj_* functions, so the
 * link has no duplicate symbol, this program's calls reach its own functions, and piaoju's
 * fitting still reaches its own libjpeg-turbo (never these stand-ins).
 * usage: own_jpeg receipt IMAGE    the sandbox's receipt: total 12.50
 *        own_jpeg fit IMAGE        an over-limit image: fitted, sent as a JPEG 4096 px wide
 *                                  (encoded by libjpeg-turbo)
 *        own_jpeg jpeg             a 4800x320 JPEG made here: decoded, fitted, sent the same way
 *        own_jpeg truncated        that JPEG cut in its scan: image_corrupt, "ends early" (libjpeg
 *                                  stops by unwinding from its callback through its C frames)
 * The configuration comes from the PIAOJU_* environment variables. Exits 0 only if all holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <piaoju.h>

/* The cashier's own libjpeg: libjpeg's names, its own bodies. Each counts its calls. */
struct jpeg_error_mgr;
static int own_std_error, own_create_decompress, own_create_compress;
struct jpeg_error_mgr *jpeg_std_error(struct jpeg_error_mgr *err) {
    own_std_error++;
    return err;
}
void jpeg_CreateDecompress(void *cinfo, int version, size_t structsize) {
    (void)cinfo, (void)version, (void)structsize;
    own_create_decompress++;
}
void jpeg_CreateCompress(void *cinfo, int version, size_t structsize) {
    (void)cinfo, (void)version, (void)structsize;
    own_create_compress++;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long size;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)size + 1)) != NULL) {
        *len = fread(data, 1, (size_t)size, f);
        if (*len != (size_t)size) {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

/* A baseline greyscale JPEG, WIDTH x HEIGHT (multiples of 8), every block flat grey: one
 * Huffman code "0" in each table, so a block is "0" (DC difference 0) then "0" (end of block). */
static unsigned char *make_jpeg(unsigned width, unsigned height, size_t *len) {
    /* Two tables, each: marker, length 20, class and number, 16 counts (one code of 1 bit), its
     * symbol. DC table 0: difference category 0; AC table 0: end of block. */
    static const unsigned char dht[] = {
        0xFF, 0xC4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00,
        0xFF, 0xC4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00};
    static const unsigned char sos[] = {0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0};
    size_t blocks = (size_t)(width / 8) * (height / 8), scan = (blocks * 2 + 7) / 8, n = 0;
    unsigned char *j = malloc(2 + 69 + 13 + sizeof dht + sizeof sos + scan + 2);
    if (!j) return NULL;
    j[n++] = 0xFF, j[n++] = 0xD8;                                   /* SOI */
    j[n++] = 0xFF, j[n++] = 0xDB, j[n++] = 0, j[n++] = 67, j[n++] = 0; /* DQT: all 1 */
    memset(j + n, 1, 64), n += 64;
    j[n++] = 0xFF, j[n++] = 0xC0, j[n++] = 0, j[n++] = 11, j[n++] = 8;  /* SOF0 */
    j[n++] = (unsigned char)(height >> 8), j[n++] = (unsigned char)height;
    j[n++] = (unsigned char)(width >> 8), j[n++] = (unsigned char)width;
    j[n++] = 1, j[n++] = 1, j[n++] = 0x11, j[n++] = 0;
    memcpy(j + n, dht, sizeof dht), n += sizeof dht;
    memcpy(j + n, sos, sizeof sos), n += sizeof sos;
    memset(j + n, 0, scan), n += scan;
    if (blocks * 2 % 8) j[n - 1] |= (unsigned char)(0xFF >> (blocks * 2 % 8)); /* pad with 1s */
    j[n++] = 0xFF, j[n++] = 0xD9;                                    /* EOI */
    *len = n;
    return j;
}

int main(int argc, char **argv) {
    const char *mode = argc >= 2 ? argv[1] : "";
    pj_client *client = NULL;
    char *error = NULL, *json = NULL;
    unsigned char *image = NULL;
    size_t len = 0;
    pj_status status, want = PJ_STATUS_OK;
    const char *expect = NULL, *expect2 = "";
    int ok;

    /* The program's own libjpeg calls reach its own functions. */
    if (jpeg_std_error(NULL) != NULL || own_std_error != 1) return 1;
    jpeg_CreateDecompress(NULL, 0, 0);
    jpeg_CreateCompress(NULL, 0, 0);
    printf("own jpeg_std_error called %d time(s)\n", own_std_error);

    if (strcmp(mode, "receipt") == 0 && argc == 3) {
        image = read_file(argv[2], &len);
        expect = "\"total_amount\":\"12.50\"";
    } else if (strcmp(mode, "fit") == 0 && argc == 3) {
        image = read_file(argv[2], &len);
        expect = "\"fitted\":true";
        expect2 = "\"sent\":{\"format\":\"jpeg\",\"width\":4096,";
    } else if (strcmp(mode, "jpeg") == 0 && argc == 2) {
        image = make_jpeg(4800, 320, &len);
        expect = "\"fitted\":true";
        expect2 = "\"sent\":{\"format\":\"jpeg\",\"width\":4096,";
    } else if (strcmp(mode, "truncated") == 0 && argc == 2) {
        image = make_jpeg(4800, 320, &len);
        len = len * 2 / 3; /* within the scan data */
        want = PJ_STATUS_IMAGE_CORRUPT;
        expect = "ends early";
    } else {
        fprintf(stderr, "usage: %s receipt IMAGE | fit IMAGE | jpeg | truncated\n", argv[0]);
        return 2;
    }
    if (!image) {
        fprintf(stderr, "cannot read or make the image\n");
        return 1;
    }
    status = pj_client_new(NULL, &client, &error);
    if (status != PJ_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", pj_status_name(status), error);
        pj_string_free(error);
        return 1;
    }
    status = pj_recognize_shopping_receipt(client, image, len, &json);
    printf("%s %s\n", pj_status_name(status), json ? json : "(null)");
    ok = status == want && json != NULL && strstr(json, expect) != NULL && strstr(json, expect2) != NULL;
    if (!ok) fprintf(stderr, "expected %s with %s %s\n", pj_status_name(want), expect, expect2);
    /* piaoju's libjpeg-turbo never called this program's functions. */
    printf("own functions called: jpeg_std_error %d, jpeg_CreateDecompress %d, jpeg_CreateCompress %d\n",
           own_std_error, own_create_decompress, own_create_compress);
    if (own_std_error != 1 || own_create_decompress != 1 || own_create_compress != 1) {
        fprintf(stderr, "piaoju called the program's own libjpeg functions\n");
        ok = 0;
    }
    pj_string_free(json);
    pj_client_free(client);
    free(image);
    return ok ? 0 : 1;
}
