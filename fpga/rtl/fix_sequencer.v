`default_nettype none
`include "fix_defs.vh"
// fix_sequencer: the FIX sequencer block of docs/sequencer.md (top).
//
// Pipeline (section 6 of the doc has the cycle diagram):
//   cycle t   : a beat is accepted; fix_framer steps the session's framer through its 8 bytes
//               and every message that ends in the beat is pushed (in byte order) into the
//               frame queue at the edge closing cycle t.
//   cycle t+1 : if the queue's head is this message and the verdict register is free, fix_seq_core
//               classifies it against the session's E/H, updates E/H/counters, and loads the
//               verdict register at the edge closing cycle t+1.
//   cycle t+2 : m_axis_tvalid = 1 with the record.
// s_axis_tready = !init && queue count <= FQ_DEPTH-8 && !(csr_valid && csr_we).
// After rst the memories are swept for SESSIONS cycles (tready = csr_ready = 0).
module fix_sequencer #(
    // SESSIONS: number of sessions (power of two, >= 64).
    parameter SESSIONS   = 64,
    // SESSION_W: clog2(SESSIONS) (<= 16: the verdict's session field is 16 bits).
    parameter SESSION_W  = 6,
    // WINDOW: received-ahead window W (power of two, >= 256).
    parameter WINDOW     = 256,
    // WINDOW_W: clog2(WINDOW).
    parameter WINDOW_W   = 8,
    // MAX_MSG: maximum message length in bytes (<= 2^24 - 1).
    parameter MAX_MSG    = 4096,
    // FQ_DEPTH: frame-queue entries (power of two, >= 16).
    parameter FQ_DEPTH   = 16,
    // FQ_DEPTH_W: clog2(FQ_DEPTH).
    parameter FQ_DEPTH_W = 4
) (
    input  wire                   clk,
    input  wire                   rst,
    // Payload stream.
    input  wire [63:0]            s_axis_tdata,
    input  wire [7:0]             s_axis_tkeep,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,
    input  wire                   s_axis_tlast,
    input  wire [SESSION_W-1:0]   s_axis_tuser,
    // Verdict stream.
    output wire [255:0]           m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready,
    // Register port (section 5 of the doc).
    input  wire                   csr_valid,
    output wire                   csr_ready,
    input  wire                   csr_we,
    input  wire [SESSION_W+5:0]   csr_addr,
    input  wire [31:0]            csr_wdata,
    output wire                   csr_rvalid,
    output wire [31:0]            csr_rdata
);
    generate
        if (SESSIONS < 64 || (1 << SESSION_W) != SESSIONS || SESSION_W > 16) begin : g_bad_sessions
            PARAMETER_CHECK_FAILED_SESSIONS u_fail ();
        end
        if (FQ_DEPTH < 16 || (1 << FQ_DEPTH_W) != FQ_DEPTH) begin : g_bad_fq_depth
            PARAMETER_CHECK_FAILED_FQ_DEPTH u_fail ();
        end
    endgenerate

    localparam FQ_W = `EV_W + SESSION_W;
    localparam [3:0] K_GAP = 4'd1, K_DUPLICATE = 4'd2, K_TOO_LOW = 4'd3, K_GARBLED = 4'd6;
    localparam [3:0] R_EXPECTED = 4'd0, R_CONTROL = 4'd1, R_MSGS = 4'd2, R_GAPS = 4'd3,
                     R_DUPS = 4'd4, R_GARBLED = 4'd5, R_TOO_LOW = 4'd6, R_PARAMS = 4'd15;

    // ---------------------------------------------------------------- reset sweep
    reg                 init_reg;
    reg [SESSION_W-1:0] init_idx_reg;
    always @(posedge clk) begin
        if (rst) begin
            init_reg     <= 1'b1;
            init_idx_reg <= {SESSION_W{1'b0}};
        end else if (init_reg) begin
            init_idx_reg <= init_idx_reg + 1'b1;
            if (init_idx_reg == SESSIONS[SESSION_W-1:0] - 1'b1) init_reg <= 1'b0;
        end
    end

    // ---------------------------------------------------------------- CSR decode
    wire [SESSION_W-1:0] csr_sess = csr_addr[SESSION_W+5:6];
    wire [3:0]           csr_reg  = csr_addr[5:2];
    wire                 fq_empty;
    assign csr_ready = !init_reg && (!csr_we || fq_empty);
    wire csr_fire = csr_valid && csr_ready;
    wire csr_wr   = csr_fire && csr_we;
    wire csr_rd   = csr_fire && !csr_we;
    wire wr_expected     = csr_wr && csr_reg == R_EXPECTED;
    wire wr_clear_window = csr_wr && csr_reg == R_CONTROL && csr_wdata[0];
    wire wr_reset_stream = csr_wr && csr_reg == R_CONTROL && csr_wdata[1];

    // ---------------------------------------------------------------- framer
    wire [FQ_DEPTH_W:0] fq_count;
    assign s_axis_tready = !init_reg && (fq_count <= FQ_DEPTH - 8) && !(csr_valid && csr_we);
    wire beat = s_axis_tvalid && s_axis_tready;

    wire [7:0]          ev_v;
    wire [8*`EV_W-1:0]  ev;
    fix_framer #(.SESSIONS(SESSIONS), .SESSION_W(SESSION_W), .MAX_MSG(MAX_MSG)) u_framer (
        .clk     (clk),
        .beat    (beat),
        .tdata   (s_axis_tdata),
        .tkeep   (s_axis_tkeep),
        .tuser   (s_axis_tuser),
        .clr     (init_reg || wr_reset_stream),
        .clr_idx (init_reg ? init_idx_reg : csr_sess),
        .ev_v    (ev_v),
        .ev      (ev)
    );

    // ---------------------------------------------------------------- frame queue
    reg [8*FQ_W-1:0] fq_in;
    integer l;
    always @* begin
        for (l = 0; l < 8; l = l + 1)
            fq_in[l*FQ_W +: FQ_W] = {s_axis_tuser, ev[l*`EV_W +: `EV_W]};
    end

    reg              out_valid_reg;
    reg [255:0]      out_data_reg;
    wire [FQ_W-1:0]  fq_head;
    wire             pop = !fq_empty && (!out_valid_reg || m_axis_tready);
    fix_frame_fifo #(.WIDTH(FQ_W), .DEPTH(FQ_DEPTH), .DEPTH_W(FQ_DEPTH_W), .LANES(8)) u_fq (
        .clk   (clk),
        .rst   (rst),
        .in_v  (ev_v),
        .in_d  (fq_in),
        .pop   (pop),
        .head  (fq_head),
        .empty (fq_empty),
        .count (fq_count)
    );

    // ---------------------------------------------------------------- sequencing
    reg [31:0]     e_mem   [0:SESSIONS-1];
    reg [WINDOW-1:0] h_mem [0:SESSIONS-1];
    reg [159:0]    cnt_mem [0:SESSIONS-1];   // {too_low, garbled, dups, gaps, msgs}

    wire [SESSION_W-1:0] hd_sess = fq_head[FQ_W-1 -: SESSION_W];
    wire [31:0]          e_new;
    wire [WINDOW-1:0]    h_new;
    wire [255:0]         verdict;
    wire [3:0]           kind;
    fix_seq_core #(.WINDOW(WINDOW), .WINDOW_W(WINDOW_W), .SESSION_W(SESSION_W)) u_seq (
        .session (hd_sess),
        .fr      (fq_head[`EV_W-1:0]),
        .e_i     (e_mem[hd_sess]),
        .h_i     (h_mem[hd_sess]),
        .e_o     (e_new),
        .h_o     (h_new),
        .verdict (verdict),
        .kind    (kind)
    );

    wire [159:0] cnt_old = cnt_mem[hd_sess];
    wire [159:0] cnt_new = {
        cnt_old[159:128] + {31'd0, kind == K_TOO_LOW},
        cnt_old[127:96]  + {31'd0, kind == K_GARBLED},
        cnt_old[95:64]   + {31'd0, kind == K_DUPLICATE},
        cnt_old[63:32]   + {31'd0, kind == K_GAP},
        cnt_old[31:0]    + 32'd1
    };

    // One write port per memory (so that synthesis can map them to LUT RAM); the sources never
    // coincide: a CSR write needs an empty queue, so no pop happens in its cycle, and the sweep
    // blocks everything else.
    wire [SESSION_W-1:0] mem_waddr = init_reg ? init_idx_reg : (csr_wr ? csr_sess : hd_sess);
    wire                 e_we  = init_reg || wr_expected || pop;
    wire [31:0]          e_wd  = init_reg ? 32'd1 : (csr_wr ? csr_wdata : e_new);
    wire                 h_we  = init_reg || wr_expected || wr_clear_window || pop;
    wire [WINDOW-1:0]    h_wd  = (init_reg || csr_wr) ? {WINDOW{1'b0}} : h_new;
    wire                 c_we  = init_reg || pop;
    wire [159:0]         c_wd  = init_reg ? 160'd0 : cnt_new;
    always @(posedge clk) begin
        if (e_we) e_mem[mem_waddr]   <= e_wd;
        if (h_we) h_mem[mem_waddr]   <= h_wd;
        if (c_we) cnt_mem[mem_waddr] <= c_wd;
    end

    always @(posedge clk) begin
        if (rst) begin
            out_valid_reg <= 1'b0;
        end else if (pop) begin
            out_valid_reg <= 1'b1;
        end else if (m_axis_tready) begin
            out_valid_reg <= 1'b0;
        end
    end
    always @(posedge clk) begin
        if (pop) out_data_reg <= verdict;
    end
    assign m_axis_tvalid = out_valid_reg;
    assign m_axis_tdata  = out_data_reg;

    // ---------------------------------------------------------------- CSR read
    reg        rvalid_reg;
    reg [31:0] rdata_reg;
    wire [159:0] cnt_csr = cnt_mem[csr_sess];
    reg  [31:0]  rdata_next;
    always @* begin
        case (csr_reg)
            R_EXPECTED: rdata_next = e_mem[csr_sess];
            R_MSGS:     rdata_next = cnt_csr[31:0];
            R_GAPS:     rdata_next = cnt_csr[63:32];
            R_DUPS:     rdata_next = cnt_csr[95:64];
            R_GARBLED:  rdata_next = cnt_csr[127:96];
            R_TOO_LOW:  rdata_next = cnt_csr[159:128];
            R_PARAMS:   rdata_next = {16'hF1C5, WINDOW_W[7:0], SESSION_W[7:0]};
            default:    rdata_next = 32'd0;
        endcase
    end
    always @(posedge clk) begin
        if (rst) begin
            rvalid_reg <= 1'b0;
            rdata_reg  <= 32'd0;
        end else begin
            rvalid_reg <= csr_rd;
            if (csr_rd) rdata_reg <= rdata_next;
        end
    end
    assign csr_rvalid = rvalid_reg;
    assign csr_rdata  = rdata_reg;

    // s_axis_tlast carries no information for the sequencer (chunks matter only through tuser).
    wire unused_ok = &{1'b0, s_axis_tlast, csr_addr[1:0]};
endmodule
`default_nettype wire
