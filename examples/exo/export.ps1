<#
.SYNOPSIS
    Export Get-DkimSigningConfig and Get-AcceptedDomain from Exchange Online for dkimwatch.

.DESCRIPTION
    Connects with app-only certificate authentication (ExchangeOnlineManagement v3), writes
    <OutDirectory>/dkim.json and <OutDirectory>/accepted-domains.json, and disconnects. Each
    file is {"ExportedAt": "<UTC time>", "value": [...]}: dkimwatch reads the records from
    "value" and judges max_age by ExportedAt (a copied or checked-out file keeps it).

    On any failure it writes ONE line saying why (as a GitHub Actions or Azure Pipelines
    error annotation when run there), leaves no export behind and exits 1, so the audit
    after it does not run on stale data.

    The certificate comes from the CI secret store: a .pfx path (Azure Pipelines secure
    file), a thumbprint (installed certificate), or the name of an environment variable that
    holds the .pfx as base64 (GitHub Actions secret). It is never printed.

.EXAMPLE
    ./examples/exo/export.ps1 -AppId $env:EXO_APP_ID -Organization contoso.onmicrosoft.com `
        -CertificateBase64Variable EXO_CERTIFICATE -OutDirectory exports
#>
[CmdletBinding(DefaultParameterSetName = 'File')]
param(
    [Parameter(Mandatory = $true)][string] $AppId,
    # The tenant's initial domain, e.g. contoso.onmicrosoft.com
    [Parameter(Mandatory = $true)][string] $Organization,
    [Parameter(Mandatory = $true, ParameterSetName = 'File')][string] $CertificateFilePath,
    [Parameter(Mandatory = $true, ParameterSetName = 'Thumbprint')][string] $CertificateThumbprint,
    [Parameter(Mandatory = $true, ParameterSetName = 'Base64')][string] $CertificateBase64Variable,
    # Name of an environment variable holding the .pfx password, if it has one.
    [string] $CertificatePasswordVariable = 'EXO_CERTIFICATE_PASSWORD',
    [string] $OutDirectory = 'exports'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function Write-OneLine([string] $Text) {
    $line = ($Text -replace '\s+', ' ').Trim()
    if ($env:GITHUB_ACTIONS -eq 'true') { $line = "::error title=Exchange Online export::$line" }
    elseif ($env:TF_BUILD) { $line = "##vso[task.logissue type=error]$line" }
    [Console]::Error.WriteLine($line)
}

$temporaryPfx = $null
$connected = $false
$staging = Join-Path $OutDirectory ".staging-$PID"
try {
    Import-Module -Name ExchangeOnlineManagement -MinimumVersion 3.0.0

    $password = $null
    $secret = [Environment]::GetEnvironmentVariable($CertificatePasswordVariable)
    # Azure Pipelines passes an undefined variable on as the text "$(NAME)": no password.
    if ($secret -and $secret -notmatch '^\$\(\w+\)$') {
        $password = ConvertTo-SecureString -String $secret -AsPlainText -Force
    }

    if ($PSCmdlet.ParameterSetName -eq 'Base64') {
        $encoded = [Environment]::GetEnvironmentVariable($CertificateBase64Variable)
        if (-not $encoded) { throw "environment variable $CertificateBase64Variable is empty: the certificate secret is not set" }
        $temporaryPfx = Join-Path ([IO.Path]::GetTempPath()) "dkimwatch-exo-$PID.pfx"
        [IO.File]::WriteAllBytes($temporaryPfx, [Convert]::FromBase64String($encoded))
        $CertificateFilePath = $temporaryPfx
    }

    if ($PSCmdlet.ParameterSetName -eq 'Thumbprint') {
        Connect-ExchangeOnline -AppId $AppId -Organization $Organization -CertificateThumbprint $CertificateThumbprint -ShowBanner:$false
    }
    elseif ($password) {
        Connect-ExchangeOnline -AppId $AppId -Organization $Organization -CertificateFilePath $CertificateFilePath -CertificatePassword $password -ShowBanner:$false
    }
    else {
        Connect-ExchangeOnline -AppId $AppId -Organization $Organization -CertificateFilePath $CertificateFilePath -ShowBanner:$false
    }
    $connected = $true

    $exportedAt = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')
    $dkim = @(Get-DkimSigningConfig)
    $accepted = @(Get-AcceptedDomain)
    if ($accepted.Count -eq 0) { throw "Get-AcceptedDomain returned no domains" }

    # Written aside first, then moved into place: a failed run leaves no half-written export.
    New-Item -ItemType Directory -Force -Path $staging | Out-Null
    @{ ExportedAt = $exportedAt; value = $dkim } | ConvertTo-Json -Depth 4 | Set-Content -Path (Join-Path $staging 'dkim.json') -Encoding utf8
    @{ ExportedAt = $exportedAt; value = $accepted } | ConvertTo-Json -Depth 4 | Set-Content -Path (Join-Path $staging 'accepted-domains.json') -Encoding utf8
    Move-Item -Path (Join-Path $staging 'dkim.json') -Destination (Join-Path $OutDirectory 'dkim.json') -Force
    Move-Item -Path (Join-Path $staging 'accepted-domains.json') -Destination (Join-Path $OutDirectory 'accepted-domains.json') -Force
    Write-Output "exported $($dkim.Count) DKIM signing configs and $($accepted.Count) accepted domains at $exportedAt"
}
catch {
    Remove-Item -Path (Join-Path $OutDirectory 'dkim.json'), (Join-Path $OutDirectory 'accepted-domains.json') -Force -ErrorAction SilentlyContinue
    Write-OneLine "Exchange Online export failed, the audit does not run on stale data: $($_.Exception.Message)"
    exit 1
}
finally {
    if ($connected) { Disconnect-ExchangeOnline -Confirm:$false -ErrorAction SilentlyContinue }
    if ($temporaryPfx) { Remove-Item -Path $temporaryPfx -Force -ErrorAction SilentlyContinue }
    Remove-Item -Path $staging -Recurse -Force -ErrorAction SilentlyContinue
}
