`default_nettype none
`include "fix_defs.vh"
// fix_seq_core: sequencing of one framed message (docs/sequencer.md section 4), combinational.
//
// e_i/h_i are the session's expected number E and window H (bit i = seq E+i held; bit 0 is
// always 0); fr is the framed record (`EV_*). Outputs: the new E and H, the 256-bit verdict
// record (section 3) and its kind (for the counters). A transcription of
// hwsim::seq::SeqState::classify with H kept as a shift register instead of a ring.
//
// Timing (docs/sequencer.md 6.3): an advance is by 1 (S = E, or a Logon reset) or to NewSeqNo
// (by N - E), so both window shifts are taken from the inputs beside the classification and
// one is selected late; the run of held seqs after the advance is found by a tree (no carry
// chain across the window).
module fix_seq_core #(
    // WINDOW: received-ahead window W in messages (power of two, >= 256).
    parameter WINDOW    = 256,
    // WINDOW_W: clog2(WINDOW).
    parameter WINDOW_W  = 8,
    // SESSION_W: width of the session index.
    parameter SESSION_W = 6
) (
    input  wire [SESSION_W-1:0] session,
    input  wire [`EV_W-1:0]     fr,
    input  wire [31:0]          e_i,
    input  wire [WINDOW-1:0]    h_i,
    output reg  [31:0]          e_o,
    output reg  [WINDOW-1:0]    h_o,
    output wire [255:0]         verdict,
    output wire [3:0]           kind
);
    generate
        if ((1 << WINDOW_W) != WINDOW || WINDOW < 256 || WINDOW_W > 24) begin : g_bad_window
            PARAMETER_CHECK_FAILED_WINDOW u_fail ();
        end
        if (SESSION_W > 16) begin : g_bad_session_w
            PARAMETER_CHECK_FAILED_SESSION_W u_fail ();
        end
    endgenerate

    localparam [3:0] K_IN_ORDER = 4'd0, K_GAP = 4'd1, K_DUPLICATE = 4'd2, K_TOO_LOW = 4'd3,
                     K_GAP_FILL = 4'd4, K_RESET = 4'd5, K_GARBLED = 4'd6,
                     K_BEYOND_WINDOW = 4'd7, K_INVALID_SEQ = 4'd8;
    localparam F_POSS_DUP = 0, F_ADMIN = 2, F_GAP_FILL = 3, F_RESET_SEQ_NUM = 4,
               F_HAS_NEW_SEQ_NO = 5;

    wire [3:0]  rsn   = fr[`EV_RSN];
    wire [39:0] off   = fr[`EV_OFF];
    wire [23:0] len   = fr[`EV_LEN];
    wire [31:0] mt    = fr[`EV_MT];
    wire [7:0]  flg   = fr[`EV_FLG];
    wire [31:0] s     = fr[`EV_SEQ];
    wire [1:0]  sst   = fr[`EV_SST];
    wire [31:0] n     = fr[`EV_NSN];

    wire has_n     = flg[F_HAS_NEW_SEQ_NO];
    wire gap_fill  = flg[F_GAP_FILL];
    wire seq_reset = flg[F_ADMIN] && mt[7:0] == "4";
    wire logon     = flg[F_ADMIN] && mt[7:0] == "A";
    wire [32:0] top = {1'b0, e_i} + WINDOW;
    // S - E (low bits), used when E < S < E + W.
    wire [WINDOW_W-1:0] d = s[WINDOW_W-1:0] - e_i[WINDOW_W-1:0];

    // Classification and the "advance to X" request.
    reg [3:0]        kind_r;
    reg [3:0]        why;
    reg              adv;        // advance to x
    reg [31:0]       x;
    reg              use_n;      // x = n (else x - E = 1, or the window is cleared)
    reg              base_clear; // rule 1: H := 0, E := S before the advance
    reg              hold;       // rule 6: set bit d (and the gap-fill range)
    reg              hold_range;

    always @* begin
        kind_r = K_IN_ORDER; why = 4'd0; adv = 1'b0; x = s + 32'd1; use_n = 1'b0;
        base_clear = 1'b0; hold = 1'b0; hold_range = 1'b0;
        if (rsn != 4'd0) begin
            kind_r = K_GARBLED;
            why = rsn;
        end else if (sst != 2'd0) begin
            kind_r = K_INVALID_SEQ;
            why = {2'd0, sst};
        end else if (logon && flg[F_RESET_SEQ_NUM]) begin
            kind_r = K_IN_ORDER;
            base_clear = 1'b1;
            adv = 1'b1;
        end else if (seq_reset && !gap_fill) begin
            kind_r = K_RESET;
            if (!has_n) why = 4'd1;
            else if (n < e_i) why = 4'd3;
            else if (n == e_i) why = 4'd4;
            else begin
                adv = 1'b1;
                x = n;
                use_n = 1'b1;
            end
        end else if (s < e_i) begin
            kind_r = flg[F_POSS_DUP] ? K_DUPLICATE : K_TOO_LOW;
        end else if (s == e_i) begin
            adv = 1'b1;
            if (seq_reset) begin
                kind_r = K_GAP_FILL;
                if (!has_n) why = 4'd1;
                else if (n <= s) why = 4'd2;
                else begin
                    x = n;
                    use_n = 1'b1;
                end
            end
        end else if ({1'b0, s} < top) begin
            if (h_i[d]) kind_r = K_DUPLICATE;
            else begin
                kind_r = K_GAP;
                hold = 1'b1;
                hold_range = seq_reset && has_n && n > s;
            end
        end else begin
            kind_r = K_BEYOND_WINDOW;
        end
    end

    // Advance to x: shift H down by x - E (all of it when that is >= W), then release the run
    // of held seqs at the new E. x - E is N - E when use_n, else 1 (S = E, x = S + 1), and a
    // Logon reset (base_clear: H := 0, E := S, x = S + 1) leaves nothing to shift.
    wire [31:0]       ne      = n - e_i;
    wire [WINDOW-1:0] h_by_n  = (ne >= WINDOW) ? {WINDOW{1'b0}} : (h_i >> ne[WINDOW_W-1:0]);
    wire [WINDOW-1:0] h_by_1  = h_i >> 1;
    wire [WINDOW-1:0] h_sh    = base_clear ? {WINDOW{1'b0}} : (use_n ? h_by_n : h_by_1);
    // run = trailing ones of h_sh = index of its lowest 0 (W when there is none), by a binary
    // tree: level l has a node per 2^l bits with "all ones" and the index of its lowest 0.
    genvar lv, j;
    generate
        for (lv = 1; lv <= WINDOW_W; lv = lv + 1) begin : g_t
            wire [(WINDOW >> lv)-1:0]    a;
            wire [(WINDOW >> lv)*lv-1:0] ix;
            for (j = 0; j < (WINDOW >> lv); j = j + 1) begin : g_n
                if (lv == 1) begin : g_leaf
                    assign a[j] = h_sh[2*j] & h_sh[2*j+1];
                    assign ix[j] = h_sh[2*j];
                end else begin : g_node
                    wire       lo_a = g_t[lv-1].a[2*j];
                    wire       hi_a = g_t[lv-1].a[2*j+1];
                    wire [lv-2:0] lo_ix = g_t[lv-1].ix[(2*j)*(lv-1) +: (lv-1)];
                    wire [lv-2:0] hi_ix = g_t[lv-1].ix[(2*j+1)*(lv-1) +: (lv-1)];
                    assign a[j] = lo_a & hi_a;
                    assign ix[j*lv +: lv] = lo_a ? {1'b1, hi_ix} : {1'b0, lo_ix};
                end
            end
        end
    endgenerate
    wire [WINDOW_W:0] run = g_t[WINDOW_W].a[0] ? WINDOW[WINDOW_W:0]
                                               : {1'b0, g_t[WINDOW_W].ix[WINDOW_W-1:0]};

    // Gap-fill range: bits d+1 .. min(N - E, W) - 1.
    wire [WINDOW_W:0] hi      = (ne >= WINDOW) ? WINDOW[WINDOW_W:0] : ne[WINDOW_W:0];
    wire [WINDOW-1:0] below_hi = ~({WINDOW{1'b1}} << hi);
    wire [WINDOW-1:0] upto_d   = ~({WINDOW{1'b1}} << ({1'b0, d} + 1'b1));
    wire [WINDOW-1:0] bit_d    = {{(WINDOW-1){1'b0}}, 1'b1} << d;

    always @* begin
        e_o = e_i;
        h_o = h_i;
        if (adv) begin
            e_o = x + {{(31-WINDOW_W){1'b0}}, run};
            h_o = h_sh >> run;
        end else if (hold) begin
            h_o = h_i | bit_d | (hold_range ? (below_hi & ~upto_d) : {WINDOW{1'b0}});
        end
    end

    wire [15:0] session16 = {{(16-SESSION_W){1'b0}}, session};
    assign kind = kind_r;
    assign verdict = {len, off, e_o, e_i, n, s, mt, flg, why, kind_r, session16};
endmodule
`default_nettype wire
