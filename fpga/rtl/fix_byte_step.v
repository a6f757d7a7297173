`default_nettype none
`include "fix_defs.vh"
// fix_byte_step: one byte of the section-2 framer of docs/sequencer.md, purely combinational.
//
// st_i is the session's framer state before the byte (layout `FS_* in fix_defs.vh), st_o the
// state after it. When `en` is 0 the byte is not part of the stream and st_o = st_i.
// ev_v is 1 when a message ends at this byte (at most one per byte); ev is its framed record
// (layout `EV_*): for a garbled message only RSN, OFF and LEN are non-zero.
// This is a transcription of hwsim::frame::FrameState::step (the semantic reference), with the
// wide values held so that eight chained steps need no chained arithmetic (docs/sequencer.md
// 6.3, "Timing"):
// * the message length is pos - start + 1 (no byte counter);
// * the checksum is `FS_SUM + psum, psum being the prefix sum of the beat's bytes up to this one
//   (computed beside the chain by fix_framer); at the end of the body it becomes three expected
//   BCD digits (`FS_CKX), and each CheckSum digit is compared with its own;
// * BodyLength: at its SOH its `sub` digits are the low nibbles of the last `sub` bytes, which
//   fix_framer supplies for every lane beside the chain (`win`); the header length is then
//   13 + digits (+1 for FIXT), so TOO_LONG is a BCD comparison of the window with a constant
//   per digit count, all computed beside the chain and selected by (fixt, sub);
// * the body countdown: the body's end is kept as an offset (`FS_BEND, for the next beat) and,
//   within the beat, as a one-hot lane mask (`FS_RL) shifted once per byte;
// * the numeric values are shifted in as BCD digits and converted to binary (an adder tree)
//   only where the value is stored; tags are a small trie over the six tags of interest.
module fix_byte_step #(
    // MAX_MSG: maximum message length in bytes (1 .. 2^24-1); longer declared lengths are TOO_LONG.
    parameter MAX_MSG = 4096
) (
    input  wire [`FS_W-1:0] st_i,
    input  wire [7:0]       b,
    input  wire             en,
    input  wire [39:0]      pos,     // offset of this byte in the session's stream
    input  wire [7:0]       psum,    // sum of the beat's kept bytes up to this one, mod 256
    input  wire [35:0]      win,     // low nibbles of the last nine kept bytes before this one
    output reg  [`FS_W-1:0] st_o,
    output reg              ev_v,
    output reg  [`EV_W-1:0] ev
);
    // Elaboration-time parameter check (an unknown module stops elaboration).
    generate
        if (MAX_MSG < 1 || MAX_MSG > 16777215) begin : g_bad_max_msg
            PARAMETER_CHECK_FAILED_MAX_MSG u_fail ();
        end
    endgenerate

    localparam [7:0] SOH = 8'h01;
    localparam [2:0] P_HUNT = 3'd0, P_BEGIN = 3'd1, P_NINE = 3'd2, P_NINE_EQ = 3'd3,
                     P_BODY_LEN = 3'd4, P_BODY = 3'd5, P_TRAILER = 3'd6;
    localparam [1:0] F_TAG = 2'd0, F_VALUE = 2'd1, F_SKIP = 2'd2;
    localparam [2:0] NO_TAG = 3'd7;
    // Flag bits (section 3).
    localparam F_POSS_DUP = 0, F_POSS_RESEND = 1, F_ADMIN = 2, F_GAP_FILL = 3,
               F_RESET_SEQ_NUM = 4, F_HAS_NEW_SEQ_NO = 5, F_MSG_TYPE_LONG = 6;
    // GARBLED reasons.
    localparam [3:0] R_BAD_BEGIN = 4'd1, R_BL_MISSING = 4'd2, R_BL_INVALID = 4'd3,
                     R_MT_NOT_THIRD = 4'd4, R_BL_MISMATCH = 4'd5, R_CK_MALFORMED = 4'd6,
                     R_CK_MISMATCH = 4'd7, R_TOO_LONG = 4'd8, R_INTERRUPTED = 4'd9;
    // Sum of "8=FIX" mod 256.
    localparam [7:0] SUM_8FIX = 8'h5C;

    // Unpacked input state.
    wire [2:0]  ph    = st_i[`FS_PH];
    wire [3:0]  sub   = st_i[`FS_SUB];
    wire [2:0]  k     = st_i[`FS_K];
    wire [2:0]  k2    = st_i[`FS_K2];
    wire        lsoh  = st_i[`FS_LSOH];
    wire [39:0] start = st_i[`FS_START];
    wire [7:0]  sum   = st_i[`FS_SUM];
    wire [23:0] bend  = st_i[`FS_BEND];
    wire [11:0] ckx   = st_i[`FS_CKX];
    wire        ckok  = st_i[`FS_CKOK];
    wire        fixt  = st_i[`FS_FIXT];
    wire [7:0]  rl    = st_i[`FS_RL];
    wire [2:0]  mtp   = st_i[`FS_MTP];
    wire [2:0]  mtl   = st_i[`FS_MTL];
    wire [31:0] mt    = st_i[`FS_MT];
    wire [1:0]  fs    = st_i[`FS_FS];
    wire [3:0]  tag   = st_i[`FS_TAG];
    wire [2:0]  tagd  = st_i[`FS_TAGD];
    wire        tagb  = st_i[`FS_TAGB];
    wire [2:0]  which = st_i[`FS_WHICH];
    wire [39:0] val   = st_i[`FS_VAL];
    wire [3:0]  vlen  = st_i[`FS_VLEN];
    wire        vbad  = st_i[`FS_VBAD];
    wire        vy    = st_i[`FS_VY];
    wire [5:0]  seen  = st_i[`FS_SEEN];
    wire [7:0]  flg   = st_i[`FS_FLG];
    wire [31:0] seq   = st_i[`FS_SEQ];
    wire [1:0]  sst   = st_i[`FS_SST];
    wire [31:0] nsn   = st_i[`FS_NSN];

    // Next-state variables.
    reg [2:0]  ph_next;    reg [3:0]  sub_next;   reg [2:0]  k_next;    reg [2:0]  k2_next;
    reg        lsoh_next;  reg [39:0] start_next; reg [7:0]  sum_next;
    reg [23:0] bend_next;  reg [11:0] ckx_next;  reg        ckok_next;
    reg        fixt_next;  reg [7:0]  rl_next;
    reg [2:0]  mtp_next;   reg [2:0]  mtl_next;
    reg [31:0] mt_next;    reg [1:0]  fs_next;    reg [3:0]  tag_next;  reg [2:0]  tagd_next;
    reg        tagb_next;  reg [2:0]  which_next; reg [39:0] val_next;  reg [3:0]  vlen_next;
    reg        vbad_next;  reg        vy_next;    reg [5:0]  seen_next; reg [7:0]  flg_next;
    reg [31:0] seq_next;   reg [1:0]  sst_next;   reg [31:0] nsn_next;

    // Helpers.
    wire        is_digit = (b >= "0") && (b <= "9");
    wire [3:0]  dig      = b[3:0];                       // valid only when is_digit
    wire [2:0]  k_m      = (k  < 3'd6 && b == kpat(k))  ? k  + 3'd1 : {2'b00, b == SOH};
    wire [2:0]  k2_m     = (k2 < 3'd5 && b == k2pat(k2)) ? k2 + 3'd1 : {2'b00, b == "8"};
    // Bytes of the message before this one (pos - start: a message is shorter than 2^24 bytes,
    // see TOO_LONG) and the message length if it ends at this byte.
    wire [23:0] cnt      = pos[23:0] - start[23:0];
    wire [23:0] len_here = pos[23:0] - start[23:0] + 24'd1;
    // Checksum accumulator after this byte, when the byte is summed.
    wire [7:0]  sum_here = sum + psum;
    // x > y for nine-digit BCD numbers, as a tree over per-digit (greater, equal) pairs rather
    // than one carry chain (y is a constant here, so each digit's pair is a 4-input function).
    function bcd_gt(input [35:0] x, input [35:0] y);
        reg [8:0] g, e;
        /* verilator lint_off UNUSEDSIGNAL */
        reg [2:0] g3, e3;   // e3[0] is not needed
        /* verilator lint_on UNUSEDSIGNAL */
        integer q;
        begin
            for (q = 0; q < 9; q = q + 1) begin
                g[q] = x[4*q +: 4] > y[4*q +: 4];
                e[q] = x[4*q +: 4] == y[4*q +: 4];
            end
            for (q = 0; q < 3; q = q + 1) begin
                g3[q] = g[3*q+2] | (e[3*q+2] & g[3*q+1]) | (e[3*q+2] & e[3*q+1] & g[3*q]);
                e3[q] = e[3*q+2] & e[3*q+1] & e[3*q];
            end
            bcd_gt = g3[2] | (e3[2] & g3[1]) | (e3[2] & e3[1] & g3[0]);
        end
    endfunction

    // At the BodyLength SOH, its value L is the last `sub` (1..9) digits of the window:
    // mask(n) keeps the low n nibbles.
    function [35:0] nib_mask(input integer n);
        integer q;
        begin
            for (q = 0; q < 36; q = q + 1) nib_mask[q] = (q < 4 * n) ? 1'b1 : 1'b0;
        end
    endfunction
    // TOO_LONG test at the BodyLength SOH: h + L + 7 > MAX_MSG, where h (bytes from the
    // message start to this SOH) is 13 + digits for FIX.4.x and 14 + digits for FIXT.1.1
    // (nothing else can precede it), i.e. L > MAX_MSG - 20 - fixt - digits. A ninth digit
    // other than 0 means L >= 10^8, more than any MAX_MSG (< 2^24). For every (fixt, digits) a
    // BCD comparison of the window with a constant (a BCD number compares like its value);
    // the chain only selects one. Also per digit count: L = 0, and L <= 8 but for its last digit.
    wire [31:0] over;
    wire [15:0] l_zero;
    wire [15:0] l_small;
    genvar gi;
    generate
        for (gi = 0; gi < 32; gi = gi + 1) begin : g_lim
            localparam integer LIM = MAX_MSG - 20 - (gi / 16) - (gi % 16);
            localparam [35:0] MASK = nib_mask(gi % 16);
            wire [35:0] lw = win & MASK;
            if (LIM < 0) begin : g_neg
                assign over[gi] = 1'b1;
            end else begin : g_cmp
                localparam [35:0] LIM_BCD = {4'd0, to_bcd8(LIM)};
                assign over[gi] = bcd_gt(lw, LIM_BCD);
            end
            if (gi < 16) begin : g_small
                assign l_zero[gi]  = (lw == 36'd0);
                assign l_small[gi] = (lw[35:4] == 32'd0);
            end
        end
    endgenerate
    wire        too_long = over[{fixt, sub}];
    wire        blen_zero = l_zero[sub];
    // BodyLength in binary, for the body's end offset (not on the chain's control path).
    // (Its top bits are not needed: a body that passes TOO_LONG is shorter than 2^24.)
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [35:0] lsel;   // only 8 digits are converted
    /* verilator lint_on UNUSEDSIGNAL */
    always @* begin
        case (sub)
            4'd1: lsel = win & nib_mask(1);
            4'd2: lsel = win & nib_mask(2);
            4'd3: lsel = win & nib_mask(3);
            4'd4: lsel = win & nib_mask(4);
            4'd5: lsel = win & nib_mask(5);
            4'd6: lsel = win & nib_mask(6);
            4'd7: lsel = win & nib_mask(7);
            default: lsel = win;
        endcase
    end
    /* verilator lint_off UNUSEDSIGNAL */
    wire [26:0] blen_bin = bcd8_to_bin(lsel[31:0]);
    /* verilator lint_on UNUSEDSIGNAL */
    wire [23:0] pos_1    = pos[23:0] + 24'd1;
    // In the body: this is its last byte.
    wire        body_last = rl[0];
    // The body length as a lane mask: bit L-1 when L <= 8.
    reg  [7:0]  rl_new;
    always @* begin
        rl_new = 8'd0;
        if (l_small[sub] && win[3:0] != 4'd0 && win[3:0] <= 4'd8)
            rl_new[win[2:0] - 3'd1] = 1'b1;
    end
    // Value is a valid MsgSeqNum/NewSeqNo: 1..10 digits, 1 .. 2^31-1 (a BCD value compares
    // like the number it encodes).
    wire        num_ok   = !vbad && vlen >= 4'd1 && vlen <= 4'd10 && val != 40'd0 &&
                           val <= 40'h21_4748_3647;
    wire [31:0] val_bin  = bcd10_to_bin(val);
    // Tag of interest index (0..5) of the tag just completed, NO_TAG if none.
    reg  [2:0]  tag_idx;
    // The checksum as three BCD digits (a table).
    wire [11:0] b2d_rom [0:255];
    genvar gv;
    generate
        for (gv = 0; gv < 256; gv = gv + 1) begin : g_b2d
            localparam [31:0] V_BCD = to_bcd8(gv);
            assign b2d_rom[gv] = V_BCD[11:0];
        end
    endgenerate
    wire [11:0] sum_bcd  = b2d_rom[sum_here];
    // The expected CheckSum digit at trailer index sub (3, 4, 5: hundreds, tens, ones).
    reg  [3:0]  ck_exp;
    always @* begin
        case (sub)
            4'd3: ck_exp = ckx[11:8];
            4'd4: ck_exp = ckx[7:4];
            default: ck_exp = ckx[3:0];
        endcase
    end

    // A number below 10^8 as eight BCD digits (elaboration only).
    function [31:0] to_bcd8(input integer v);
        integer i, r;
        /* verilator lint_off UNUSEDSIGNAL */
        integer d;   // a digit: its low 4 bits
        /* verilator lint_on UNUSEDSIGNAL */
        begin
            to_bcd8 = 32'd0;
            r = v;
            for (i = 0; i < 8; i = i + 1) begin
                d = r % 10;
                to_bcd8[4*i +: 4] = d[3:0];
                r = r / 10;
            end
        end
    endfunction

    // Trie nodes of the tag value (T_V<n>: the value is n; T_OTHER: no tag of interest can
    // follow). Leading zeros keep the value 0. A tag of interest is 8 + its index (0..5).
    localparam [3:0] T_V0 = 4'd0, T_V1 = 4'd1, T_V3 = 4'd2, T_V4 = 4'd3, T_V9 = 4'd4,
                     T_V12 = 4'd5, T_V14 = 4'd6, T_OTHER = 4'd7, T_V34 = 4'd8, T_V36 = 4'd9,
                     T_V43 = 4'd10, T_V97 = 4'd11, T_V123 = 4'd12, T_V141 = 4'd13;
    reg  [3:0]  tag_dig;
    always @* begin
        tag_dig = T_OTHER;
        case (tag)
            T_V0: case (dig)
                      4'd0: tag_dig = T_V0;
                      4'd1: tag_dig = T_V1;
                      4'd3: tag_dig = T_V3;
                      4'd4: tag_dig = T_V4;
                      4'd9: tag_dig = T_V9;
                      default: ;
                  endcase
            T_V1:  if (dig == 4'd2) tag_dig = T_V12; else if (dig == 4'd4) tag_dig = T_V14;
            T_V3:  if (dig == 4'd4) tag_dig = T_V34; else if (dig == 4'd6) tag_dig = T_V36;
            T_V4:  if (dig == 4'd3) tag_dig = T_V43;
            T_V9:  if (dig == 4'd7) tag_dig = T_V97;
            T_V12: if (dig == 4'd3) tag_dig = T_V123;
            T_V14: if (dig == 4'd1) tag_dig = T_V141;
            default: ;
        endcase
    end

    // d * m for a decimal digit d and a constant m, as a table (no multiplier).
    function [33:0] dmul(input [3:0] d, input [33:0] m);
        case (d)
            4'd1: dmul = m;
            4'd2: dmul = 34'd2 * m;
            4'd3: dmul = 34'd3 * m;
            4'd4: dmul = 34'd4 * m;
            4'd5: dmul = 34'd5 * m;
            4'd6: dmul = 34'd6 * m;
            4'd7: dmul = 34'd7 * m;
            4'd8: dmul = 34'd8 * m;
            4'd9: dmul = 34'd9 * m;
            default: dmul = 34'd0;
        endcase
    endfunction

    // Eight BCD digits to binary: a balanced tree of three adder levels.
    function [26:0] bcd8_to_bin(input [31:0] v);
        /* verilator lint_off UNUSEDSIGNAL */
        reg [33:0] a0, a1, a2, a3, b0, b1, s;   // s < 10^8 < 2^27
        /* verilator lint_on UNUSEDSIGNAL */
        begin
            a0 = dmul(v[31:28], 34'd10000000) + dmul(v[27:24], 34'd1000000);
            a1 = dmul(v[23:20], 34'd100000) + dmul(v[19:16], 34'd10000);
            a2 = dmul(v[15:12], 34'd1000) + dmul(v[11:8], 34'd100);
            a3 = dmul(v[7:4], 34'd10) + dmul(v[3:0], 34'd1);
            b0 = a0 + a1;
            b1 = a2 + a3;
            s = b0 + b1;
            bcd8_to_bin = s[26:0];
        end
    endfunction

    // Ten BCD digits to binary, mod 2^32 (exact for the values num_ok accepts): the top two
    // digits beside the tree of eight.
    function [31:0] bcd10_to_bin(input [39:0] v);
        /* verilator lint_off UNUSEDSIGNAL */
        reg [33:0] t, s;   // only the low 32 bits of s are kept
        /* verilator lint_on UNUSEDSIGNAL */
        begin
            t = dmul(v[39:36], 34'd1000000000) + dmul(v[35:32], 34'd100000000);
            s = {7'd0, bcd8_to_bin(v[31:0])} + t;
            bcd10_to_bin = s[31:0];
        end
    endfunction

    function [7:0] kpat(input [2:0] i);
        case (i)
            3'd0: kpat = SOH;
            3'd1: kpat = "8";
            3'd2: kpat = "=";
            3'd3: kpat = "F";
            3'd4: kpat = "I";
            default: kpat = "X";
        endcase
    endfunction

    function [7:0] k2pat(input [2:0] i);
        case (i)
            3'd0: k2pat = "8";
            3'd1: k2pat = "=";
            3'd2: k2pat = "F";
            3'd3: k2pat = "I";
            default: k2pat = "X";
        endcase
    endfunction

    always @* tag_idx = tag[3] ? tag[2:0] : NO_TAG;
    // The tag of interest as a one-hot, and whether it is a first occurrence.
    wire [5:0]  tag_hit;
    genvar gt;
    generate
        for (gt = 0; gt < 6; gt = gt + 1) begin : g_hit
            assign tag_hit[gt] = (tag == 4'd8 + gt[3:0]);
        end
    endgenerate
    wire        tag_take = !tagb && tagd != 3'd0 && |(tag_hit & ~seen);

    // Flags of a valid message: the extracted ones plus ADMIN and MSG_TYPE_LONG.
    reg  [7:0]  flg_out;
    always @* begin
        flg_out = flg;
        flg_out[F_ADMIN] = (mtl == 3'd1) &&
                           ((mt[7:0] >= "0" && mt[7:0] <= "5") || mt[7:0] == "A");
        flg_out[F_MSG_TYPE_LONG] = (mtl > 3'd4);
    end

    // Outcome of an in-message byte.
    reg        fail;
    reg [3:0]  why;
    reg        good;
    reg        begin_msg;
    reg [39:0] begin_at;
    reg        field_end;   // the body byte is SOH ending a value of interest

    always @* begin
        ph_next = ph;       sub_next = sub;     k_next = k;         k2_next = k2;
        lsoh_next = lsoh;   start_next = start; sum_next = sum;
        bend_next = bend;   ckx_next = ckx;     ckok_next = ckok;
        fixt_next = fixt;   rl_next = rl;       mtp_next = mtp;     mtl_next = mtl;
        mt_next = mt;       fs_next = fs;       tag_next = tag;     tagd_next = tagd;
        tagb_next = tagb;   which_next = which; val_next = val;     vlen_next = vlen;
        vbad_next = vbad;   vy_next = vy;       seen_next = seen;   flg_next = flg;
        seq_next = seq;     sst_next = sst;     nsn_next = nsn;
        fail = 1'b0; why = 4'd0; good = 1'b0; begin_msg = 1'b0; begin_at = pos - 40'd4;
        field_end = 1'b0;
        ev_v = 1'b0;
        ev = {`EV_W{1'b0}};
        if (en) begin
            k_next = k_m;
            k2_next = k2_m;
            if (ph == P_HUNT) begin
                if (k2_m == 3'd5) begin_msg = 1'b1;
            end else if (k_m == 3'd6) begin
                // SOH 8=FIX inside a message: it ends before the new '8'.
                ev_v = 1'b1;
                ev[`EV_RSN] = R_INTERRUPTED;
                ev[`EV_OFF] = start;
                ev[`EV_LEN] = cnt - 24'd4;
                begin_msg = 1'b1;
            end else begin
                case (ph)
                    P_BEGIN: begin
                        case (sub)
                            4'd0:  if (b == ".") sub_next = 4'd1;
                                   else if (b == "T") begin
                                       sub_next = 4'd11;
                                       fixt_next = 1'b1;
                                   end
                                   else fail = 1'b1;
                            4'd1:  if (b == "4") sub_next = 4'd2; else fail = 1'b1;
                            4'd2:  if (b == ".") sub_next = 4'd3; else fail = 1'b1;
                            4'd3:  if (b >= "0" && b <= "4") sub_next = 4'd4; else fail = 1'b1;
                            4'd11: if (b == ".") sub_next = 4'd12; else fail = 1'b1;
                            4'd12: if (b == "1") sub_next = 4'd13; else fail = 1'b1;
                            4'd13: if (b == ".") sub_next = 4'd14; else fail = 1'b1;
                            4'd14: if (b == "1") sub_next = 4'd15; else fail = 1'b1;
                            4'd4, 4'd15: if (b == SOH) ph_next = P_NINE; else fail = 1'b1;
                            default: fail = 1'b1;
                        endcase
                        why = R_BAD_BEGIN;
                    end
                    P_NINE: begin
                        why = R_BL_MISSING;
                        if (b == "9") ph_next = P_NINE_EQ; else fail = 1'b1;
                    end
                    P_NINE_EQ: begin
                        why = R_BL_MISSING;
                        if (b == "=") begin
                            ph_next = P_BODY_LEN;
                            sub_next = 4'd0;
                        end else fail = 1'b1;
                    end
                    P_BODY_LEN: begin
                        if (is_digit && sub < 4'd9) begin
                            sub_next = sub + 4'd1;
                        end else if (b == SOH && sub != 4'd0) begin
                            if (too_long) begin
                                fail = 1'b1;
                                why = R_TOO_LONG;
                            end else begin
                                lsoh_next = 1'b1;
                                if (blen_zero) begin
                                    ph_next = P_TRAILER;
                                    sub_next = 4'd0;
                                    ckx_next = sum_bcd;
                                    ckok_next = 1'b1;
                                end else begin
                                    ph_next = P_BODY;
                                    bend_next = pos_1 + blen_bin[23:0];
                                    rl_next = rl_new;
                                end
                            end
                        end else begin
                            fail = 1'b1;
                            why = R_BL_INVALID;
                        end
                    end
                    P_BODY: begin
                        if (mtp < 3'd5) begin
                            // The leading 35=value SOH.
                            why = R_MT_NOT_THIRD;
                            case (mtp)
                                3'd0: if (b == "3") mtp_next = 3'd1; else fail = 1'b1;
                                3'd1: if (b == "5") mtp_next = 3'd2; else fail = 1'b1;
                                3'd2: if (b == "=") mtp_next = 3'd3; else fail = 1'b1;
                                3'd3: if (b == SOH) fail = 1'b1;
                                      else begin
                                          mt_next = {24'd0, b};
                                          mtl_next = 3'd1;
                                          mtp_next = 3'd4;
                                      end
                                default: if (b == SOH) begin
                                          mtp_next = 3'd5;
                                          fs_next = F_TAG;
                                          tag_next = T_V0;
                                          tagd_next = 3'd0;
                                          tagb_next = 1'b0;
                                      end else begin
                                          case (mtl)
                                              3'd1: mt_next[15:8] = b;
                                              3'd2: mt_next[23:16] = b;
                                              3'd3: mt_next[31:24] = b;
                                              default: ;
                                          endcase
                                          if (mtl < 3'd5) mtl_next = mtl + 3'd1;
                                      end
                            endcase
                        end else begin
                            // Field extraction after MsgType.
                            case (fs)
                                F_TAG: begin
                                    if (b == "=") begin
                                        which_next = NO_TAG;
                                        if (tag_take) begin
                                            seen_next = seen | tag_hit;
                                            which_next = tag_idx;
                                        end
                                        if (which_next == NO_TAG) fs_next = F_SKIP;
                                        else begin
                                            fs_next = F_VALUE;
                                            val_next = 40'd0;
                                            vlen_next = 4'd0;
                                            vbad_next = 1'b0;
                                            vy_next = 1'b0;
                                        end
                                    end else if (b == SOH) begin
                                        tag_next = T_V0;
                                        tagd_next = 3'd0;
                                        tagb_next = 1'b0;
                                    end else if (is_digit && tagd < 3'd5) begin
                                        tag_next = tag_dig;
                                        tagd_next = tagd + 3'd1;
                                    end else begin
                                        tagb_next = 1'b1;
                                    end
                                end
                                F_SKIP: begin
                                    if (b == SOH) begin
                                        fs_next = F_TAG;
                                        tag_next = T_V0;
                                        tagd_next = 3'd0;
                                        tagb_next = 1'b0;
                                    end
                                end
                                default: begin // F_VALUE
                                    if (b == SOH) begin
                                        field_end = 1'b1;
                                        fs_next = F_TAG;
                                        tag_next = T_V0;
                                        tagd_next = 3'd0;
                                        tagb_next = 1'b0;
                                    end else begin
                                        if (vlen == 4'd0) vy_next = (b == "Y");
                                        if (is_digit) begin
                                            if (vlen < 4'd10) val_next = {val[35:0], dig};
                                        end else begin
                                            vbad_next = 1'b1;
                                        end
                                        if (vlen < 4'd11) vlen_next = vlen + 4'd1;
                                    end
                                end
                            endcase
                            if (field_end) begin
                                case (which)
                                    3'd0: if (num_ok) begin
                                              seq_next = val_bin[31:0];
                                              sst_next = 2'd0;
                                          end else begin
                                              sst_next = 2'd2;
                                          end
                                    3'd1: if (num_ok) begin
                                              nsn_next = val_bin[31:0];
                                              flg_next[F_HAS_NEW_SEQ_NO] = 1'b1;
                                          end
                                    3'd2: if (vlen == 4'd1 && vy) flg_next[F_POSS_DUP] = 1'b1;
                                    3'd3: if (vlen == 4'd1 && vy) flg_next[F_POSS_RESEND] = 1'b1;
                                    3'd4: if (vlen == 4'd1 && vy) flg_next[F_GAP_FILL] = 1'b1;
                                    3'd5: if (vlen == 4'd1 && vy) flg_next[F_RESET_SEQ_NUM] = 1'b1;
                                    default: ;
                                endcase
                            end
                        end
                        if (!fail) begin
                            lsoh_next = (b == SOH);
                            rl_next = {1'b0, rl[7:1]};
                            if (body_last) begin
                                ph_next = P_TRAILER;
                                sub_next = 4'd0;
                                ckx_next = sum_bcd;
                                ckok_next = 1'b1;
                            end
                        end
                    end
                    default: begin // P_TRAILER
                        case (sub)
                            4'd0: begin
                                if (mtp != 3'd5) begin
                                    fail = 1'b1;
                                    why = R_MT_NOT_THIRD;
                                end else if (!(lsoh && b == "1")) begin
                                    fail = 1'b1;
                                    why = R_BL_MISMATCH;
                                end
                            end
                            4'd1: begin
                                why = R_BL_MISMATCH;
                                if (b != "0") fail = 1'b1;
                            end
                            4'd2: begin
                                why = R_BL_MISMATCH;
                                if (b != "=") fail = 1'b1;
                            end
                            4'd3, 4'd4, 4'd5: begin
                                why = R_CK_MALFORMED;
                                if (!is_digit) fail = 1'b1;
                                else ckok_next = ckok && (dig == ck_exp);
                            end
                            default: begin
                                if (b != SOH) begin
                                    fail = 1'b1;
                                    why = R_CK_MALFORMED;
                                end else if (!ckok) begin
                                    fail = 1'b1;
                                    why = R_CK_MISMATCH;
                                end else begin
                                    good = 1'b1;
                                end
                            end
                        endcase
                        if (!fail && !good) sub_next = sub + 4'd1;
                    end
                endcase
                if (fail) begin
                    ph_next = P_HUNT;
                    ev_v = 1'b1;
                    ev[`EV_RSN] = why;
                    ev[`EV_OFF] = start;
                    ev[`EV_LEN] = len_here;
                end else if (good) begin
                    ph_next = P_HUNT;
                    ev_v = 1'b1;
                    ev[`EV_OFF] = start;
                    ev[`EV_LEN] = len_here;
                    ev[`EV_MT] = mt;
                    ev[`EV_FLG] = flg_out;
                    ev[`EV_SEQ] = (sst == 2'd0) ? seq : 32'd0;
                    ev[`EV_SST] = sst;
                    ev[`EV_NSN] = flg[F_HAS_NEW_SEQ_NO] ? nsn : 32'd0;
                end
            end
            if (begin_msg) begin
                // A message starts at pos-4 with "8=FIX" consumed.
                ph_next = P_BEGIN;   sub_next = 4'd0;    k_next = 3'd0;      k2_next = 3'd0;
                lsoh_next = 1'b0;    start_next = begin_at;
                // The sum of "8=FIX" after this byte: base = SUM_8FIX - psum.
                sum_next = SUM_8FIX - psum;
                bend_next = 24'd0;  ckx_next = 12'd0;   ckok_next = 1'b0;
                fixt_next = 1'b0;    rl_next = 8'd0;
                mtp_next = 3'd0;     mtl_next = 3'd0;
                mt_next = 32'd0;     fs_next = F_TAG;    tag_next = T_V0;    tagd_next = 3'd0;
                tagb_next = 1'b0;    which_next = NO_TAG; val_next = 40'd0;  vlen_next = 4'd0;
                vbad_next = 1'b0;    vy_next = 1'b0;     seen_next = 6'd0;   flg_next = 8'd0;
                seq_next = 32'd0;    sst_next = 2'd1;    nsn_next = 32'd0;
            end
        end
        st_o = {rl_next, nsn_next, sst_next, seq_next, flg_next, seen_next, vy_next, vbad_next, vlen_next,
                val_next, which_next, tagb_next, tagd_next, tag_next, fs_next, mt_next, mtl_next,
                mtp_next, fixt_next, ckok_next, ckx_next, bend_next, st_i[`FS_WIN], sum_next,
                start_next, lsoh_next, k2_next, k_next, sub_next, ph_next};
    end
endmodule
`default_nettype wire
