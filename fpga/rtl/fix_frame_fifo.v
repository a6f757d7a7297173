`default_nettype none
// fix_frame_fifo: first-in first-out queue with up to LANES pushes and one pop per cycle.
//
// The valid lanes of in_v are appended in lane order (lane 0 first); the caller guarantees
// room (count + popcount(in_v) - pop <= DEPTH). head/empty/count describe the queue before
// the clock edge; pop removes the head at the edge. Pushes and the pop of one cycle take
// effect at the same edge, so an entry pushed at edge t can be popped at edge t+1 at the
// earliest.
module fix_frame_fifo #(
    // WIDTH: entry width in bits.
    parameter WIDTH   = 180,
    // DEPTH: number of entries (power of two, >= LANES).
    parameter DEPTH   = 16,
    // DEPTH_W: clog2(DEPTH).
    parameter DEPTH_W = 4,
    // LANES: pushes per cycle.
    parameter LANES   = 8
) (
    input  wire                   clk,
    input  wire                   rst,
    input  wire [LANES-1:0]       in_v,
    input  wire [LANES*WIDTH-1:0] in_d,
    input  wire                   pop,
    output wire [WIDTH-1:0]       head,
    output wire                   empty,
    output wire [DEPTH_W:0]       count
);
    generate
        if ((1 << DEPTH_W) != DEPTH || DEPTH < LANES) begin : g_bad_depth
            PARAMETER_CHECK_FAILED_FIFO_DEPTH u_fail ();
        end
    endgenerate

    // The queue is LANES banks of DEPTH/LANES rows: logical slot i lives in bank i mod LANES,
    // row i / LANES. The pushes of one cycle occupy consecutive slots, so each bank takes at most
    // one of them: a one-hot select per bank instead of a LANES-way write port per entry.
    localparam ROWS   = DEPTH / LANES;
    localparam ROWS_W = (ROWS > 1) ? $clog2(ROWS) : 1;
    localparam LANE_W = $clog2(LANES);

    reg [DEPTH_W-1:0] rd_reg;
    reg [DEPTH_W-1:0] wr_reg;
    reg [DEPTH_W:0]   count_reg;

    assign empty = (count_reg == {(DEPTH_W+1){1'b0}});
    assign count = count_reg;

    // Number of valid lanes below lane n.
    function [DEPTH_W:0] lanes_before(input [LANES-1:0] v, input integer n);
        integer j;
        begin
            lanes_before = {(DEPTH_W+1){1'b0}};
            for (j = 0; j < LANES; j = j + 1)
                if (j < n && v[j]) lanes_before = lanes_before + 1'b1;
        end
    endfunction

    wire [DEPTH_W:0] pushes = lanes_before(in_v, LANES);

    // Slot of each lane: the write pointer plus the valid lanes below it.
    reg [LANES*DEPTH_W-1:0] slots;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [DEPTH_W:0]         slot_sum;   // its top bit is dropped: slots wrap modulo DEPTH
    /* verilator lint_on UNUSEDSIGNAL */
    integer l;
    always @* begin
        for (l = 0; l < LANES; l = l + 1) begin
            slot_sum = {1'b0, wr_reg} + lanes_before(in_v, l);
            slots[l*DEPTH_W +: DEPTH_W] = slot_sum[DEPTH_W-1:0];
        end
    end

    wire [WIDTH-1:0] bank_head [0:LANES-1];
    genvar g;
    generate
        for (g = 0; g < LANES; g = g + 1) begin : g_bank
            reg [WIDTH-1:0]  mem [0:ROWS-1];
            reg              we;
            reg [WIDTH-1:0]  wd;
            reg [ROWS_W-1:0] wrow;
            integer m;
            always @* begin
                we = 1'b0;
                wd = {WIDTH{1'b0}};
                wrow = {ROWS_W{1'b0}};
                for (m = 0; m < LANES; m = m + 1) begin
                    if (in_v[m] && slots[m*DEPTH_W +: LANE_W] == g) begin
                        we = 1'b1;
                        wd = wd | in_d[m*WIDTH +: WIDTH];
                        if (ROWS > 1) wrow = wrow | slot_row(slots[m*DEPTH_W +: DEPTH_W]);
                    end
                end
            end
            always @(posedge clk) begin
                if (we) mem[wrow] <= wd;
            end
            assign bank_head[g] = mem[(ROWS > 1) ? slot_row(rd_reg) : {ROWS_W{1'b0}}];
        end
    endgenerate

    // Row of a slot (slot / LANES).
    function [ROWS_W-1:0] slot_row(input [DEPTH_W-1:0] slot);
        /* verilator lint_off UNUSEDSIGNAL */
        reg [DEPTH_W-1:0] r;   // only its low ROWS_W bits are the row
        /* verilator lint_on UNUSEDSIGNAL */
        begin
            r = slot >> LANE_W;
            slot_row = r[ROWS_W-1:0];
        end
    endfunction

    assign head = bank_head[rd_reg[LANE_W-1:0]];

    always @(posedge clk) begin
        if (rst) begin
            rd_reg    <= {DEPTH_W{1'b0}};
            wr_reg    <= {DEPTH_W{1'b0}};
            count_reg <= {(DEPTH_W+1){1'b0}};
        end else begin
            rd_reg    <= rd_reg + {{(DEPTH_W-1){1'b0}}, pop};
            wr_reg    <= wr_reg + pushes[DEPTH_W-1:0];
            count_reg <= count_reg + pushes - {{DEPTH_W{1'b0}}, pop};
        end
    end
endmodule
`default_nettype wire
