`default_nettype none
`include "fix_defs.vh"
// fix_framer: the per-session framers of docs/sequencer.md section 2, 8 bytes per cycle.
//
// Each session's framer state (`FS_*) and stream offset live in a SESSIONS-deep memory with
// one asynchronous read port (indexed by the beat's session) and one write port. On a beat
// (beat = 1) the state is read, stepped through the kept bytes in order by eight chained
// fix_byte_step instances, and written back at the clock edge: back-to-back beats of one
// session need no forwarding. Up to 8 messages can end in one beat; lane i (byte i) reports
// the message that ends at byte i, if any, combinationally in the same cycle.
//
// What does not depend on the incoming state is computed beside the lane chain: each byte's
// offset and the prefix sums of the beat's kept bytes (a three-level adder tree). The chain
// itself carries no arithmetic (fix_byte_step). The checksum base the steps carry is relative
// to the beat's prefix sum; it is turned back into the sum so far when the state is written.
//
// The write port is shared: clr (stream reset of session clr_idx: HUNT, k = 1, offset 0) has
// priority over the beat; the caller never asserts both for one cycle (fix_sequencer blocks
// the input while it clears).
module fix_framer #(
    // SESSIONS: number of sessions (power of two, >= 2 here; the top requires >= 64).
    parameter SESSIONS  = 64,
    // SESSION_W: clog2(SESSIONS).
    parameter SESSION_W = 6,
    // MAX_MSG: maximum message length in bytes.
    parameter MAX_MSG   = 4096
) (
    input  wire                  clk,
    input  wire                  beat,
    input  wire [63:0]           tdata,
    input  wire [7:0]            tkeep,
    input  wire [SESSION_W-1:0]  tuser,
    input  wire                  clr,
    input  wire [SESSION_W-1:0]  clr_idx,
    output wire [7:0]            ev_v,
    output wire [8*`EV_W-1:0]    ev
);
    generate
        if ((1 << SESSION_W) != SESSIONS) begin : g_bad_session_w
            PARAMETER_CHECK_FAILED_SESSION_W u_fail ();
        end
    endgenerate

    // Stream-reset state: HUNT, k = 1, k2 = 0, no field seen, seq status "missing".
    function [`FS_W-1:0] fs_reset(input dummy);
        begin
            fs_reset = {`FS_W{dummy}};
            fs_reset[`FS_K] = 3'd1;
            fs_reset[`FS_SST] = 2'd1;
        end
    endfunction
    localparam [`FS_W-1:0] FS_RESET = fs_reset(1'b0);

    reg [`FS_W-1:0] st_mem  [0:SESSIONS-1];
    reg [39:0]      off_mem [0:SESSIONS-1];

    wire [`FS_W-1:0] st0     = st_mem[tuser];
    wire [39:0]      off_reg = off_mem[tuser];
    wire [`FS_W-1:0] st8;

    // Offset of byte i: the session offset plus the kept bytes before it.
    function [3:0] kept_before(input [7:0] keep, input integer n);
        integer j;
        begin
            kept_before = 4'd0;
            for (j = 0; j < 8; j = j + 1)
                if (j < n) kept_before = kept_before + {3'd0, keep[j]};
        end
    endfunction

    // Prefix sums of the kept bytes, mod 256: ps[i] = sum of bytes 0..i (Sklansky tree).
    wire [7:0] kb [0:7];
    wire [7:0] ps [0:7];
    genvar i;
    generate
        for (i = 0; i < 8; i = i + 1) begin : g_kb
            assign kb[i] = tkeep[i] ? tdata[8*i +: 8] : 8'd0;
        end
    endgenerate
    wire [7:0] q01 = kb[0] + kb[1];
    wire [7:0] q23 = kb[2] + kb[3];
    wire [7:0] q45 = kb[4] + kb[5];
    wire [7:0] q67 = kb[6] + kb[7];
    wire [7:0] q46 = q45 + kb[6];
    wire [7:0] q47 = q45 + q67;
    wire [7:0] q03 = q01 + q23;
    assign ps[0] = kb[0];
    assign ps[1] = q01;
    assign ps[2] = q01 + kb[2];
    assign ps[3] = q03;
    assign ps[4] = q03 + kb[4];
    assign ps[5] = q03 + q45;
    assign ps[6] = q03 + q46;
    assign ps[7] = q03 + q47;

    // The low nibbles of the last nine kept bytes before each lane (wn[8]: after the beat).
    reg [36*9-1:0] wn;
    integer w;
    always @* begin
        wn[35:0] = st0[`FS_WIN];
        for (w = 0; w < 8; w = w + 1)
            wn[36*(w+1) +: 36] = tkeep[w] ? {wn[36*w +: 32], tdata[8*w +: 4]} : wn[36*w +: 36];
    end

    // The body's end as a lane mask for the chain (`FS_RL): bit k when the trailer starts k+1
    // kept bytes after the beat's first one (meaningful in the body only).
    wire [23:0] to_end = st0[`FS_BEND] - off_reg[23:0];
    reg  [7:0]       rl0;
    reg  [`FS_W-1:0] st0r;
    integer r;
    always @* begin
        for (r = 0; r < 8; r = r + 1)
            rl0[r] = (to_end == r[23:0] + 24'd1);
        st0r = st0;
        st0r[`FS_RL] = rl0;
    end

    generate
        for (i = 0; i < 8; i = i + 1) begin : g_lane
            wire [`FS_W-1:0] si;
            wire [`FS_W-1:0] so;
            if (i == 0) begin : g_first
                assign si = st0r;
            end else begin : g_next
                assign si = g_lane[i-1].so;
            end
            fix_byte_step #(.MAX_MSG(MAX_MSG)) u_step (
                .st_i (si),
                .b    (tdata[8*i +: 8]),
                .en   (beat & tkeep[i]),
                .pos  (off_reg + {36'd0, kept_before(tkeep, i)}),
                .psum (ps[i]),
                .win  (wn[36*i +: 36]),
                .st_o (so),
                .ev_v (ev_v[i]),
                .ev   (ev[i*`EV_W +: `EV_W])
            );
        end
    endgenerate
    assign st8 = g_lane[7].so;

    // One write port (so that synthesis can map the memories to LUT RAM).
    wire                 we    = clr | beat;
    wire [SESSION_W-1:0] waddr = clr ? clr_idx : tuser;
    // The checksum base after the beat plus the beat's byte sum: the sum so far (for the next
    // beat, whose prefix sums start at 0).
    reg  [`FS_W-1:0]     st8n;
    always @* begin
        st8n = st8;
        st8n[`FS_SUM] = st8[`FS_SUM] + ps[7];
        st8n[`FS_WIN] = wn[36*8 +: 36];
    end
    wire [`FS_W-1:0]     wst   = clr ? FS_RESET : st8n;
    wire [39:0]          woff  = clr ? 40'd0 : off_reg + {36'd0, kept_before(tkeep, 8)};
    always @(posedge clk) begin
        if (we) begin
            st_mem[waddr]  <= wst;
            off_mem[waddr] <= woff;
        end
    end
endmodule
`default_nettype wire
