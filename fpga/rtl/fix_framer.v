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

    genvar i;
    generate
        for (i = 0; i < 8; i = i + 1) begin : g_lane
            wire [`FS_W-1:0] si;
            wire [`FS_W-1:0] so;
            if (i == 0) begin : g_first
                assign si = st0;
            end else begin : g_next
                assign si = g_lane[i-1].so;
            end
            fix_byte_step #(.MAX_MSG(MAX_MSG)) u_step (
                .st_i (si),
                .b    (tdata[8*i +: 8]),
                .en   (beat & tkeep[i]),
                .pos  (off_reg + {36'd0, kept_before(tkeep, i)}),
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
    wire [`FS_W-1:0]     wst   = clr ? FS_RESET : st8;
    wire [39:0]          woff  = clr ? 40'd0 : off_reg + {36'd0, kept_before(tkeep, 8)};
    always @(posedge clk) begin
        if (we) begin
            st_mem[waddr]  <= wst;
            off_mem[waddr] <= woff;
        end
    end
endmodule
`default_nettype wire
