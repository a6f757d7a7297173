`default_nettype none
`include "fix_defs.vh"
// fix_byte_step: one byte of the section-2 framer of docs/sequencer.md, purely combinational.
//
// st_i is the session's framer state before the byte (layout `FS_* in fix_defs.vh), st_o the
// state after it. When `en` is 0 the byte is not part of the stream and st_o = st_i.
// ev_v is 1 when a message ends at this byte (at most one per byte); ev is its framed record
// (layout `EV_*): for a garbled message only RSN, OFF and LEN are non-zero.
// This is a transcription of hwsim::frame::FrameState::step (the semantic reference).
module fix_byte_step #(
    // MAX_MSG: maximum message length in bytes (1 .. 2^24-1); longer declared lengths are TOO_LONG.
    parameter MAX_MSG = 4096
) (
    input  wire [`FS_W-1:0] st_i,
    input  wire [7:0]       b,
    input  wire             en,
    input  wire [39:0]      pos,     // offset of this byte in the session's stream
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
    localparam [33:0] SEQ_MAX = 34'h7FFF_FFFF;

    // Unpacked input state.
    wire [2:0]  ph    = st_i[`FS_PH];
    wire [3:0]  sub   = st_i[`FS_SUB];
    wire [2:0]  k     = st_i[`FS_K];
    wire [2:0]  k2    = st_i[`FS_K2];
    wire        lsoh  = st_i[`FS_LSOH];
    wire [39:0] start = st_i[`FS_START];
    wire [23:0] cnt   = st_i[`FS_CNT];
    wire [7:0]  sum   = st_i[`FS_SUM];
    wire [29:0] blen  = st_i[`FS_BLEN];
    wire [9:0]  cks   = st_i[`FS_CKS];
    wire [2:0]  mtp   = st_i[`FS_MTP];
    wire [2:0]  mtl   = st_i[`FS_MTL];
    wire [31:0] mt    = st_i[`FS_MT];
    wire [1:0]  fs    = st_i[`FS_FS];
    wire [16:0] tag   = st_i[`FS_TAG];
    wire [2:0]  tagd  = st_i[`FS_TAGD];
    wire        tagb  = st_i[`FS_TAGB];
    wire [2:0]  which = st_i[`FS_WHICH];
    wire [33:0] val   = st_i[`FS_VAL];
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
    reg        lsoh_next;  reg [39:0] start_next; reg [23:0] cnt_next;  reg [7:0]  sum_next;
    reg [29:0] blen_next;  reg [9:0]  cks_next;   reg [2:0]  mtp_next;  reg [2:0]  mtl_next;
    reg [31:0] mt_next;    reg [1:0]  fs_next;    reg [16:0] tag_next;  reg [2:0]  tagd_next;
    reg        tagb_next;  reg [2:0]  which_next; reg [33:0] val_next;  reg [3:0]  vlen_next;
    reg        vbad_next;  reg        vy_next;    reg [5:0]  seen_next; reg [7:0]  flg_next;
    reg [31:0] seq_next;   reg [1:0]  sst_next;   reg [31:0] nsn_next;

    // Helpers.
    wire        is_digit = (b >= "0") && (b <= "9");
    wire [3:0]  dig      = b[3:0];                       // valid only when is_digit
    wire [2:0]  k_m      = (k  < 3'd6 && b == kpat(k))  ? k  + 3'd1 : {2'b00, b == SOH};
    wire [2:0]  k2_m     = (k2 < 3'd5 && b == k2pat(k2)) ? k2 + 3'd1 : {2'b00, b == "8"};
    wire [23:0] len_here = cnt + 24'd1;                  // message length if it ends at this byte
    // TOO_LONG test: h + L + 7 > MAX_MSG with h = len_here (h <= 2^24, L < 2^30).
    wire [31:0] need     = {8'd0, len_here} + {2'd0, blen} + 32'd7;
    // Value is a valid MsgSeqNum/NewSeqNo: 1..10 digits, 1 .. 2^31-1.
    wire        num_ok   = !vbad && vlen >= 4'd1 && vlen <= 4'd10 && val != 34'd0 && val <= SEQ_MAX;
    // Tag of interest index (0..5) of the tag just completed, NO_TAG if none.
    reg  [2:0]  tag_idx;
    // Value of the CheckSum digits after this byte.
    // x*10 + digit as shifts and adds (no multipliers).
    wire [9:0]  cks_dig  = {cks[6:0], 3'd0} + {cks[8:0], 1'b0} + {6'd0, dig};
    wire [33:0] val_dig  = {val[30:0], 3'd0} + {val[32:0], 1'b0} + {30'd0, dig};
    wire [16:0] tag_dig  = {tag[13:0], 3'd0} + {tag[15:0], 1'b0} + {13'd0, dig};
    wire [29:0] blen_dig = {blen[26:0], 3'd0} + {blen[28:0], 1'b0} + {26'd0, dig};

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

    always @* begin
        case (tag)
            17'd34:  tag_idx = 3'd0;
            17'd36:  tag_idx = 3'd1;
            17'd43:  tag_idx = 3'd2;
            17'd97:  tag_idx = 3'd3;
            17'd123: tag_idx = 3'd4;
            17'd141: tag_idx = 3'd5;
            default: tag_idx = NO_TAG;
        endcase
    end

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
        lsoh_next = lsoh;   start_next = start; cnt_next = cnt;     sum_next = sum;
        blen_next = blen;   cks_next = cks;     mtp_next = mtp;     mtl_next = mtl;
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
            cnt_next = len_here;
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
                        sum_next = sum + b;
                        case (sub)
                            4'd0:  if (b == ".") sub_next = 4'd1;
                                   else if (b == "T") sub_next = 4'd11;
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
                        sum_next = sum + b;
                        why = R_BL_MISSING;
                        if (b == "9") ph_next = P_NINE_EQ; else fail = 1'b1;
                    end
                    P_NINE_EQ: begin
                        sum_next = sum + b;
                        why = R_BL_MISSING;
                        if (b == "=") begin
                            ph_next = P_BODY_LEN;
                            sub_next = 4'd0;
                            blen_next = 30'd0;
                        end else fail = 1'b1;
                    end
                    P_BODY_LEN: begin
                        sum_next = sum + b;
                        if (is_digit && sub < 4'd9) begin
                            blen_next = blen_dig;
                            sub_next = sub + 4'd1;
                        end else if (b == SOH && sub != 4'd0) begin
                            if (need > MAX_MSG) begin
                                fail = 1'b1;
                                why = R_TOO_LONG;
                            end else begin
                                lsoh_next = 1'b1;
                                if (blen == 30'd0) begin
                                    ph_next = P_TRAILER;
                                    sub_next = 4'd0;
                                    cks_next = 10'd0;
                                end else begin
                                    ph_next = P_BODY;
                                end
                            end
                        end else begin
                            fail = 1'b1;
                            why = R_BL_INVALID;
                        end
                    end
                    P_BODY: begin
                        sum_next = sum + b;
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
                                          tag_next = 17'd0;
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
                                        if (!tagb && tagd != 3'd0 && tag_idx != NO_TAG &&
                                            !seen[tag_idx]) begin
                                            seen_next[tag_idx] = 1'b1;
                                            which_next = tag_idx;
                                        end
                                        if (which_next == NO_TAG) fs_next = F_SKIP;
                                        else begin
                                            fs_next = F_VALUE;
                                            val_next = 34'd0;
                                            vlen_next = 4'd0;
                                            vbad_next = 1'b0;
                                            vy_next = 1'b0;
                                        end
                                    end else if (b == SOH) begin
                                        tag_next = 17'd0;
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
                                        tag_next = 17'd0;
                                        tagd_next = 3'd0;
                                        tagb_next = 1'b0;
                                    end
                                end
                                default: begin // F_VALUE
                                    if (b == SOH) begin
                                        field_end = 1'b1;
                                        fs_next = F_TAG;
                                        tag_next = 17'd0;
                                        tagd_next = 3'd0;
                                        tagb_next = 1'b0;
                                    end else begin
                                        if (vlen == 4'd0) vy_next = (b == "Y");
                                        if (is_digit) begin
                                            if (vlen < 4'd10) val_next = val_dig;
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
                                              seq_next = val[31:0];
                                              sst_next = 2'd0;
                                          end else begin
                                              sst_next = 2'd2;
                                          end
                                    3'd1: if (num_ok) begin
                                              nsn_next = val[31:0];
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
                            blen_next = blen - 30'd1;
                            if (blen == 30'd1) begin
                                ph_next = P_TRAILER;
                                sub_next = 4'd0;
                                cks_next = 10'd0;
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
                                else cks_next = cks_dig;
                            end
                            default: begin
                                if (b != SOH) begin
                                    fail = 1'b1;
                                    why = R_CK_MALFORMED;
                                end else if (cks != {2'd0, sum}) begin
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
                lsoh_next = 1'b0;    start_next = begin_at; cnt_next = 24'd5; sum_next = SUM_8FIX;
                blen_next = 30'd0;   cks_next = 10'd0;   mtp_next = 3'd0;    mtl_next = 3'd0;
                mt_next = 32'd0;     fs_next = F_TAG;    tag_next = 17'd0;   tagd_next = 3'd0;
                tagb_next = 1'b0;    which_next = NO_TAG; val_next = 34'd0;  vlen_next = 4'd0;
                vbad_next = 1'b0;    vy_next = 1'b0;     seen_next = 6'd0;   flg_next = 8'd0;
                seq_next = 32'd0;    sst_next = 2'd1;    nsn_next = 32'd0;
            end
        end
        st_o = {nsn_next, sst_next, seq_next, flg_next, seen_next, vy_next, vbad_next, vlen_next,
                val_next, which_next, tagb_next, tagd_next, tag_next, fs_next, mt_next, mtl_next,
                mtp_next, cks_next, blen_next, sum_next, cnt_next, start_next, lsoh_next,
                k2_next, k_next, sub_next, ph_next};
    end
endmodule
`default_nettype wire
